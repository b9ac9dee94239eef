# LoRA adapters: what a server that loads adapters must keep to (data.rules.lora).
package main

# METADATA
# title: Adapter rank within --max-lora-rank
# description: every adapter a vLLM server loads at start (its rank stamped in annotation data.rules.lora.ranksAnnotation) has a rank at most the command line's --max-lora-rank, which sizes the GPU memory of each adapter slot; vLLM refuses a larger adapter.
# custom:
#   source: issue 27 (LoRA adapters); vLLM LoRA docs (--max-lora-rank bounds every adapter's rank)
#   severity: deny
deny_lora_rank contains msg if {
	some w in gpu_deployments
	w.serves
	ranks := json.unmarshal(object.get(w.pod.metadata, ["annotations", data.rules.lora.ranksAnnotation], "{}"))
	limit := flag_number(w.cmd, flag_positions(w.cmd), data.rules.lora.maxRankFlags, data.rules.lora.defaultMaxRank)
	some name, rank in ranks
	rank > limit
	msg := format("[lora_rank] %v: adapter %v has rank %v, above --max-lora-rank %v, so vLLM refuses to load it; raise lora.maxLoraRank to at least %v or serve a lower-rank adapter", [container_subject(w.pod, w.container), name, rank, limit, rank])
}

# METADATA
# title: No run-time adapter loading
# description: no container sets data.rules.lora.runtimeUpdatingEnv to 1 or true, which lets anyone who reaches the serving port make vLLM load an adapter from any path or Hub repository (POST /v1/load_lora_adapter). lora.runtimeUpdating is an explicit opt-in, declared in policies/exceptions.yaml.
# custom:
#   source: issue 27 (runtime loading only as an explicit opt-in); vLLM LoRA docs ("Dynamically serving LoRA Adapters" warns it is risky in production)
#   severity: deny
deny_runtime_lora_updating contains msg if {
	some pod in pods
	some c in containers(pod.spec)
	some env in object.get(c, "env", [])
	env.name == data.rules.lora.runtimeUpdatingEnv
	lower(text(object.get(env, "value", ""))) in {"1", "true"}
	msg := format("[runtime_lora_updating] %v: sets %v=%v, so any client of the port can load an adapter from any path or Hub repository at run time; set lora.runtimeUpdating: false and list the adapters in lora.adapters, or declare the opt-in in policies/exceptions.yaml with a reason", [container_subject(pod, c), env.name, env.value])
}

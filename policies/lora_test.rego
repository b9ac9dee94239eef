package main

# --- lora_rank ---

lora_deployment(max_rank, ranks) := json.patch(fixture_deployment, [
	{"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "--max-lora-rank"},
	{"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": max_rank},
	{"op": "add", "path": "/metadata/annotations/vllm-models.io~1lora-ranks", "value": json.marshal(ranks)},
])

test_lora_rank_passes_without_adapters if {
	count(deny_lora_rank) == 0 with data.main.objects as fixture_release
}

test_lora_rank_passes_on_a_rank_equal_to_the_limit if {
	count(deny_lora_rank) == 0 with data.main.objects as [lora_deployment("16", {"sql": 16, "support": 8})]
}

test_lora_rank_fails_one_past_the_limit if {
	deny_lora_rank == {"[lora_rank] Deployment llms-v2-demo container vllm: adapter sql has rank 17, above --max-lora-rank 16, so vLLM refuses to load it; raise lora.maxLoraRank to at least 17 or serve a lower-rank adapter"} with data.main.objects as [lora_deployment("16", {"sql": 17, "support": 8})]
}

test_lora_rank_reads_the_flag_in_its_underscore_spelling if {
	d := json.patch(fixture_deployment, [
		{"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "--max_lora_rank=8"},
		{"op": "add", "path": "/metadata/annotations/vllm-models.io~1lora-ranks", "value": "{\"sql\": 9}"},
	])
	deny_lora_rank == {"[lora_rank] Deployment llms-v2-demo container vllm: adapter sql has rank 9, above --max-lora-rank 8, so vLLM refuses to load it; raise lora.maxLoraRank to at least 9 or serve a lower-rank adapter"} with data.main.objects as [d]
}

test_lora_rank_takes_vllms_default_limit_when_the_flag_is_absent if {
	d := json.patch(fixture_deployment, [{"op": "add", "path": "/metadata/annotations/vllm-models.io~1lora-ranks", "value": "{\"sql\": 16}"}])
	count(deny_lora_rank) == 0 with data.main.objects as [d]
	e := json.patch(fixture_deployment, [{"op": "add", "path": "/metadata/annotations/vllm-models.io~1lora-ranks", "value": "{\"sql\": 32}"}])
	count(deny_lora_rank) == 1 with data.main.objects as [e]
}

# --- runtime_lora_updating ---

runtime_lora(value) := json.patch(fixture_deployment, [{"op": "add", "path": "/spec/template/spec/containers/0/env/-", "value": {"name": "VLLM_ALLOW_RUNTIME_LORA_UPDATING", "value": value}}])

test_runtime_lora_updating_passes_without_the_variable if {
	count(deny_runtime_lora_updating) == 0 with data.main.objects as fixture_release
}

test_runtime_lora_updating_passes_when_the_variable_is_off if {
	count(deny_runtime_lora_updating) == 0 with data.main.objects as [runtime_lora("0")]
}

test_runtime_lora_updating_fails_on_1_and_on_true if {
	deny_runtime_lora_updating == {"[runtime_lora_updating] Deployment llms-v2-demo container vllm: sets VLLM_ALLOW_RUNTIME_LORA_UPDATING=1, so any client of the port can load an adapter from any path or Hub repository at run time; set lora.runtimeUpdating: false and list the adapters in lora.adapters, or declare the opt-in in policies/exceptions.yaml with a reason"} with data.main.objects as [runtime_lora("1")]
	count(deny_runtime_lora_updating) == 1 with data.main.objects as [runtime_lora("True")]
}

{{/* vllm-models.managedFlags: every vLLM flag the chart sets from a key, mapped to that key (extraArgs may not repeat them); data parallelism is replicas, tokens come from a Secret. */}}
{{- define "vllm-models.managedFlags" -}}
--model: deployment.model
--served-model-name: deployment.servedModelName
--host: deployment.host
--port: deployment.port
--tensor-parallel-size: deployment.tensorParallel
-tp: deployment.tensorParallel
--pipeline-parallel-size: deployment.pipelineParallel
-pp: deployment.pipelineParallel
--gpu-memory-utilization: deployment.gpuMemoryUtilization
--max-model-len: deployment.maxModelLen
--max-num-seqs: deployment.maxNumSeqs
--enable-chunked-prefill: deployment.enableChunkedPrefill
--no-enable-chunked-prefill: deployment.enableChunkedPrefill
--enable-prefix-caching: prefixCaching.enable
--no-enable-prefix-caching: prefixCaching.enable
--quantization: deployment.quantization
-q: deployment.quantization
--trust-remote-code: deployment.trustRemoteCode
--limit-mm-per-prompt: deployment.limitMmPerPrompt
--disable-mm-preprocessor-cache: deployment.disableMmPreprocessorCache
--enable-expert-parallel: deployment.enableExpertParallel
--async-scheduling: deployment.asyncScheduling
--enable-auto-tool-choice: deployment.functionCall
--tool-call-parser: deployment.toolCallParser
--reasoning-parser: deployment.reasoningParser
--kv-transfer-config: deployment.kvOffloading
--kv-offloading-size: deployment.kvOffloading
--kv-offloading-backend: deployment.kvOffloading
--mm-processor-cache-gb: deployment.kvOffloading.mmProcessorCacheGb
--mm-processor-cache-type: deployment.kvOffloading.mmProcessorCacheType
--compilation-config: deployment.cudaGraphMode
-O: deployment.cudaGraphMode
--attention-backend: deployment.attentionBackend
--shutdown-timeout: deployment.shutdownTimeoutSeconds
--enable-lora: lora.enabled
--no-enable-lora: lora.enabled
--lora-modules: lora.adapters
--max-loras: lora.maxLoras
--max-lora-rank: lora.maxLoraRank
--max-cpu-loras: lora.maxCpuLoras
--data-parallel-size: replicaCount
-dp: replicaCount
--hf-token: huggingface.tokenSecret
--distributed-executor-backend: multiNode.launcher
--nnodes: multiNode.nodes
-n: multiNode.nodes
--node-rank: multiNode.nodes
-r: multiNode.nodes
--master-addr: multiNode.launcher
--headless: multiNode.launcher
{{- end -}}

{{/* vllm-models.args: the complete `vllm serve` argument list of a role (dict "root" $ "role" server|leader|worker), built from values in this one place (YAML list). */}}
{{- define "vllm-models.args" -}}
{{- $role := .role -}}
{{- if not (has $role (list "server" "leader" "worker")) -}}
{{- fail (printf "vllm-models.args: role %q is not server, leader or worker" $role) -}}
{{- end -}}
{{- with .root -}}
{{- $d := .Values.deployment -}}
{{- /* What this vLLM version has (vllm-versions.yaml, from the catalogs): a flag only where it exists. */ -}}
{{- $facts := include "vllm-models.vllmFacts" . | fromYaml -}}
{{- $args := list (required "vllm-models: deployment.model is required: the model path inside the container, e.g. /models/Qwen/Qwen3-32B-FP8" $d.model) -}}
{{- $args = concat $args (list "--served-model-name" (required "vllm-models: deployment.servedModelName is required: the name clients send in requests" $d.servedModelName)) -}}
{{- $args = concat $args (list "--host" $d.host "--port" (toString $d.port)) -}}
{{- $args = concat $args (list "--tensor-parallel-size" (toString $d.tensorParallel)) -}}
{{- if gt (int $d.pipelineParallel) 1 -}}
{{- $args = concat $args (list "--pipeline-parallel-size" (toString $d.pipelineParallel)) -}}
{{- end -}}
{{- $args = concat $args (list "--gpu-memory-utilization" (toString $d.gpuMemoryUtilization)) -}}
{{- if $d.maxModelLen -}}
{{- $args = concat $args (list "--max-model-len" (toString (int64 $d.maxModelLen))) -}}
{{- end -}}
{{- $args = concat $args (list "--max-num-seqs" (toString (int64 $d.maxNumSeqs))) -}}
{{- $args = append $args (ternary "--enable-chunked-prefill" "--no-enable-chunked-prefill" $d.enableChunkedPrefill) -}}
{{- $args = append $args (ternary "--enable-prefix-caching" "--no-enable-prefix-caching" .Values.prefixCaching.enable) -}}
{{- if $d.quantization -}}
{{- $args = concat $args (list "--quantization" $d.quantization) -}}
{{- end -}}
{{- if $d.trustRemoteCode -}}
{{- $args = append $args "--trust-remote-code" -}}
{{- end -}}
{{- if $d.visionModel -}}
{{- if $d.limitMmPerPrompt -}}
{{- $args = concat $args (list "--limit-mm-per-prompt" $d.limitMmPerPrompt) -}}
{{- end -}}
{{- /* --disable-mm-preprocessor-cache is deprecated in v0.10.2 and v0.11.0; a zero-size cache is its replacement. */ -}}
{{- if $d.disableMmPreprocessorCache -}}
{{- $args = concat $args (list "--mm-processor-cache-gb" "0") -}}
{{- end -}}
{{- end -}}
{{- if $d.enableExpertParallel -}}
{{- $args = append $args "--enable-expert-parallel" -}}
{{- end -}}
{{- if $d.asyncScheduling -}}
{{- $args = append $args "--async-scheduling" -}}
{{- end -}}
{{- if $d.functionCall -}}
{{- $args = concat $args (list "--enable-auto-tool-choice" "--tool-call-parser" (required "vllm-models: deployment.toolCallParser is required when deployment.functionCall is true, e.g. hermes, qwen3_coder or deepseek_v3" $d.toolCallParser)) -}}
{{- end -}}
{{- if $d.reasoningParser -}}
{{- $args = concat $args (list "--reasoning-parser" $d.reasoningParser) -}}
{{- end -}}
{{- $lora := .Values.lora -}}
{{- /* Where the version lacks a flag, vllm-models.validateVllmVersion has refused lora.enabled already. */ -}}
{{- if and $lora.enabled (index $facts.flags "--enable-lora") -}}
{{- $args = concat $args (list "--enable-lora" "--max-loras" (toString (int $lora.maxLoras)) "--max-lora-rank" (toString (int $lora.maxLoraRank))) -}}
{{- if not (kindIs "invalid" $lora.maxCpuLoras) -}}
{{- $args = concat $args (list "--max-cpu-loras" (toString (int $lora.maxCpuLoras))) -}}
{{- end -}}
{{- with $lora.adapters -}}
{{- $args = append $args "--lora-modules" -}}
{{- range . -}}
{{- /* The JSON form names the base model, which /v1/models reports as each adapter's parent. */ -}}
{{- $args = append $args (ternary (dict "name" .name "path" .path "base_model_name" $d.servedModelName | toJson) (printf "%s=%s" .name .path) (eq (toString $facts.loraModulesJson) "true")) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $kv := $d.kvOffloading -}}
{{- if and $kv.enabled (eq $kv.backend "native") -}}
{{- /* vLLM's own CPU offloading (vllm/config/cache.py kv_offloading_size, in GiB; no LMCache needed). */ -}}
{{- $args = concat $args (list "--kv-offloading-size" (toString $kv.cpuOffloadingBufferSize) "--kv-offloading-backend" "native") -}}
{{- else if $kv.enabled -}}
{{- $args = concat $args (list "--kv-transfer-config" (dict "kv_connector" "LMCacheConnectorV1" "kv_role" "kv_both" | toJson)) -}}
{{- end -}}
{{- if $kv.mmProcessorCacheGb -}}
{{- $args = concat $args (list "--mm-processor-cache-gb" (toString $kv.mmProcessorCacheGb)) -}}
{{- end -}}
{{- if $kv.mmProcessorCacheType -}}
{{- $args = concat $args (list "--mm-processor-cache-type" $kv.mmProcessorCacheType) -}}
{{- end -}}
{{- if $d.cudaGraphMode -}}
{{- $args = concat $args (list "--compilation-config" (dict "cudagraph_mode" $d.cudaGraphMode | toJson)) -}}
{{- end -}}
{{- /* The flag from the version that has it (0.13.0), the VLLM_ATTENTION_BACKEND variable before (vllm-models.env). */ -}}
{{- if and $d.attentionBackend (index $facts.flags "--attention-backend") -}}
{{- $args = concat $args (list "--attention-backend" (get $facts.attentionBackendNames $d.attentionBackend | default $d.attentionBackend)) -}}
{{- end -}}
{{- $drain := include "vllm-models.shutdownTimeout" . | int -}}
{{- if gt $drain 0 -}}
{{- $args = concat $args (list "--shutdown-timeout" (toString $drain)) -}}
{{- end -}}
{{- /* One model over a group of nodes (docs/serving/parallelism_scaling.md). Ray: the leader's vLLM
       places the model on the Ray cluster its workers joined; the backend is explicit because vLLM
       v0.11.1+ no longer picks Ray by itself. Native: every node runs `vllm serve` with the same
       arguments, its rank from LWS (Kubernetes expands $(VAR) from the env LWS injects); the
       workers run headless, with no API server. */ -}}
{{- $launcher := include "vllm-models.launcher" . -}}
{{- if eq $launcher "ray" -}}
{{- $args = concat $args (list "--distributed-executor-backend" "ray") -}}
{{- else if eq $launcher "native" -}}
{{- $args = concat $args (list "--nnodes" (include "vllm-models.nodes" .) "--node-rank" "$(LWS_WORKER_INDEX)" "--master-addr" "$(LWS_LEADER_ADDRESS)") -}}
{{- if eq $role "worker" -}}
{{- $args = append $args "--headless" -}}
{{- end -}}
{{- end -}}
{{- $managed := include "vllm-models.managedFlags" . | fromYaml -}}
{{- $seen := dict -}}
{{- range $d.extraArgs -}}
{{- $given := regexReplaceAll "=.*$" (toString .) "" -}}
{{- /* vLLM reads --a_b as --a-b, --no-x negates --x and (from 0.33.0) --disable-x --enable-x: compare in that canonical form. */ -}}
{{- $flag := $given -}}
{{- if hasPrefix "--" $flag -}}
{{- $flag = printf "--%s" (trimPrefix "--" $flag | replace "_" "-") -}}
{{- end -}}
{{- range $candidate := list $flag (regexReplaceAll "^--no-" $flag "--") (regexReplaceAll "^--disable-" $flag "--enable-") -}}
{{- if hasKey $managed $candidate -}}
{{- fail (printf "vllm-models: deployment.extraArgs sets %s, which the chart manages from %s; set that key instead of passing the flag" $given (get $managed $candidate)) -}}
{{- end -}}
{{- end -}}
{{- /* argparse keeps only the last of a repeated flag; --middleware is the one vLLM flag that appends. */ -}}
{{- if and (regexMatch "^-[a-zA-Z-]" $flag) (ne $flag "--middleware") -}}
{{- if hasKey $seen $flag -}}
{{- fail (printf "vllm-models: deployment.extraArgs sets %s twice; vLLM keeps only the last one, so give it once" $given) -}}
{{- end -}}
{{- $_ := set $seen $flag true -}}
{{- end -}}
{{- end -}}
{{- toYaml (concat $args $d.extraArgs) -}}
{{- end -}}
{{- end -}}

{{/* vllm-models.env: the container environment (logging, NCCL, multi-node networking, LMCache, attention backend, HF token, runtime directories, offline mode, extraEnv). */}}
{{- define "vllm-models.env" -}}
{{- $d := .Values.deployment -}}
{{- $env := list (dict "name" "VLLM_LOGGING_LEVEL" "value" .Values.global.logging.level) -}}
{{- /* Collectives run whenever the model spans more than one GPU, on one node or across several. */ -}}
{{- if gt (mul (int $d.numGPUs) (include "vllm-models.nodes" . | int)) 1 -}}
{{- $env = append $env (dict "name" "NCCL_DEBUG" "value" .Values.nccl.logLevel) -}}
{{- if not (kindIs "invalid" .Values.nccl.gpuMem) -}}
{{- $env = append $env (dict "name" "NCCL_CUMEM_ENABLE" "value" (ternary "1" "0" .Values.nccl.gpuMem)) -}}
{{- end -}}
{{- end -}}
{{- if eq (include "vllm-models.isGroup" .) "true" -}}
{{- $m := .Values.multiNode -}}
{{- /* The address vLLM advertises to the other nodes: the pod's own (vLLM docs/usage/security.md:
       "Always set VLLM_HOST_IP"; production-stack's Ray cluster does the same). */ -}}
{{- $env = append $env (dict "name" "VLLM_HOST_IP" "valueFrom" (dict "fieldRef" (dict "fieldPath" "status.podIP"))) -}}
{{- with $m.socketInterface -}}
{{- $env = concat $env (list (dict "name" "NCCL_SOCKET_IFNAME" "value" .) (dict "name" "GLOO_SOCKET_IFNAME" "value" .)) -}}
{{- end -}}
{{- if and $m.rdma.enabled $m.rdma.hca -}}
{{- $env = append $env (dict "name" "NCCL_IB_HCA" "value" $m.rdma.hca) -}}
{{- end -}}
{{- end -}}
{{- $facts := include "vllm-models.vllmFacts" . | fromYaml -}}
{{- if and $d.attentionBackend (not (index $facts.flags "--attention-backend")) -}}
{{- /* Before vLLM has --attention-backend (vllm-models.args); a name this version spells differently
       (TRITON_ATTN was TRITON_ATTN_VLLM_V1 before 0.11.0) comes from vllm-versions.yaml. */ -}}
{{- $env = append $env (dict "name" "VLLM_ATTENTION_BACKEND" "value" (get $facts.attentionBackendNames $d.attentionBackend | default $d.attentionBackend)) -}}
{{- end -}}
{{- if and $d.kvOffloading.enabled (eq $d.kvOffloading.backend "lmcache") -}}
{{- $env = concat $env (list (dict "name" "LMCACHE_LOCAL_CPU" "value" "True") (dict "name" "LMCACHE_MAX_LOCAL_CPU_SIZE" "value" (toString $d.kvOffloading.cpuOffloadingBufferSize))) -}}
{{- end -}}
{{- if and .Values.lora.enabled .Values.lora.runtimeUpdating -}}
{{- $env = append $env (dict "name" (include "vllm-models.rules" . | fromYaml).lora.runtimeUpdatingEnv "value" "1") -}}
{{- end -}}
{{- with .Values.huggingface.tokenSecret.name -}}
{{- $env = append $env (dict "name" "HF_TOKEN" "valueFrom" (dict "secretKeyRef" (dict "name" . "key" $.Values.huggingface.tokenSecret.key))) -}}
{{- end -}}
{{- $env = concat $env (include "vllm-models.runtimeEnv" . | fromYamlArray) (include "vllm-models.offlineEnv" . | fromYamlArray) -}}
{{- toYaml (concat $env .Values.extraEnv) -}}
{{- end -}}

{{- /* What a non-root vLLM on a read-only root filesystem needs: a user name, a writable HOME and
     cache directories, /tmp, offline mode for local weights. Kept apart from the pod template so
     every workload kind (and init containers) can reuse them. Sources: rules.yaml `runtime`. */ -}}

{{/* vllm-models.runtimeHome: the writable HOME directory (runtime.home.path, no trailing slash). */}}
{{- define "vllm-models.runtimeHome" -}}
{{- trimSuffix "/" .Values.runtime.home.path -}}
{{- end -}}

{{/* vllm-models.cacheRoot: VLLM_CACHE_ROOT, vLLM's default below XDG_CACHE_HOME; the compile cache claim is mounted here. */}}
{{- define "vllm-models.cacheRoot" -}}
{{- printf "%s/.cache/vllm" (include "vllm-models.runtimeHome" .) -}}
{{- end -}}

{{/* vllm-models.runtimeEnv: USER, LOGNAME, HOME and the directories vLLM, torch, Triton and Hugging Face write, as a YAML list of env entries. */}}
{{- define "vllm-models.runtimeEnv" -}}
{{- $home := include "vllm-models.runtimeHome" . -}}
{{- $cache := include "vllm-models.cacheRoot" . -}}
{{- $env := list (dict "name" "HOME" "value" $home) -}}
{{- /* getpass.getuser() reads LOGNAME and USER before the passwd file the UID is missing from (vllm#44548). */ -}}
{{- $env = concat $env (list (dict "name" "USER" "value" .Values.runtime.userName) (dict "name" "LOGNAME" "value" .Values.runtime.userName)) -}}
{{- $env = concat $env (list (dict "name" "XDG_CACHE_HOME" "value" (printf "%s/.cache" $home)) (dict "name" "XDG_CONFIG_HOME" "value" (printf "%s/.config" $home))) -}}
{{- /* vLLM sets TRITON_CACHE_DIR itself while it compiles (below its compile cache); this covers Triton's other JIT kernels and autotuning. */ -}}
{{- $env = concat $env (list (dict "name" "VLLM_CACHE_ROOT" "value" $cache) (dict "name" "TRITON_CACHE_DIR" "value" (printf "%s/triton" $cache))) -}}
{{- if not .Values.runtime.usageStats -}}
{{- $env = append $env (dict "name" "VLLM_NO_USAGE_STATS" "value" "1") -}}
{{- end -}}
{{- toYaml $env -}}
{{- end -}}

{{/* vllm-models.localWeights: "true" when deployment.model is a path inside the container (the weights are local), else "". */}}
{{- define "vllm-models.localWeights" -}}
{{- if hasPrefix "/" (.Values.deployment.model | default "") -}}true{{- end -}}
{{- end -}}

{{/* vllm-models.offlineEnv: HF_HUB_OFFLINE and TRANSFORMERS_OFFLINE set to 1 when the weights are local (rules.yaml offline.env), as a YAML list; empty for a Hugging Face id. */}}
{{- define "vllm-models.offlineEnv" -}}
{{- $env := list -}}
{{- if include "vllm-models.localWeights" . -}}
{{- range (include "vllm-models.rules" . | fromYaml).offline.env -}}
{{- $env = append $env (dict "name" . "value" "1") -}}
{{- end -}}
{{- end -}}
{{- toYaml $env -}}
{{- end -}}

{{/* vllm-models.cacheVolumes: the writable volumes (HOME, /tmp, the optional compile cache claim), as a YAML list of pod volumes. */}}
{{- define "vllm-models.cacheVolumes" -}}
{{- $r := .Values.runtime -}}
{{- $items := list -}}
{{- range $name, $limit := dict "home" $r.home.sizeLimit "tmp" $r.tmp.sizeLimit -}}
{{- $items = append $items (printf "- name: %s\n  emptyDir:%s" $name (ternary (printf "\n    sizeLimit: %v" $limit) " {}" (not (empty $limit)))) -}}
{{- end -}}
{{- with $r.compileCache.existingClaim -}}
{{- $items = append $items (printf "- name: compile-cache\n  persistentVolumeClaim:\n    claimName: %s" (quote .)) -}}
{{- end -}}
{{- join "\n" $items -}}
{{- end -}}

{{/* vllm-models.cacheVolumeMounts: where the vLLM container mounts the writable volumes, as a YAML list of volumeMounts. */}}
{{- define "vllm-models.cacheVolumeMounts" -}}
{{- $items := list (printf "- name: home\n  mountPath: %s" (include "vllm-models.runtimeHome" . | quote)) "- name: tmp\n  mountPath: /tmp" -}}
{{- if .Values.runtime.compileCache.existingClaim -}}
{{- $items = append $items (printf "- name: compile-cache\n  mountPath: %s" (include "vllm-models.cacheRoot" . | quote)) -}}
{{- end -}}
{{- join "\n" $items -}}
{{- end -}}

{{/* vllm-models.containerSecurityContext: the vLLM container's securityContext; dropPageCache.enabled makes it privileged root (its explicit, reported exception). */}}
{{- define "vllm-models.containerSecurityContext" -}}
{{- $context := deepCopy .Values.containerSecurityContext -}}
{{- if and .Values.multiNode.rdma.enabled (eq (include "vllm-models.isGroup" .) "true") -}}
{{- /* RDMA pins memory pages for the NIC: IPC_LOCK (vLLM parallelism_scaling.md, "Enabling GPUDirect RDMA"). */ -}}
{{- $capabilities := get $context "capabilities" | default dict -}}
{{- $_ := set $capabilities "add" (append (get $capabilities "add" | default list) "IPC_LOCK" | uniq) -}}
{{- $_ = set $context "capabilities" $capabilities -}}
{{- end -}}
{{- if .Values.dropPageCache.enabled -}}
{{- /* echo 3 > /proc/sys/vm/drop_caches needs root and a privileged container; vLLM then runs as root too. */ -}}
{{- toYaml (merge (dict "privileged" true "allowPrivilegeEscalation" true "runAsUser" 0 "runAsNonRoot" false) (omit $context "allowPrivilegeEscalation" "runAsUser" "runAsNonRoot")) -}}
{{- else -}}
{{- toYaml $context -}}
{{- end -}}
{{- end -}}

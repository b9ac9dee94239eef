{{/* vllm-models.nodes: pods per replica (multiNode.nodes); 1 is one pod per replica (a Deployment), more a LeaderWorkerSet group. */}}
{{- define "vllm-models.nodes" -}}
{{- .Values.multiNode.nodes | default 1 | int -}}
{{- end -}}

{{/* vllm-models.isGroup: "true" when each replica is a multi-node group (a LeaderWorkerSet). */}}
{{- define "vllm-models.isGroup" -}}
{{- gt (include "vllm-models.nodes" . | int) 1 -}}
{{- end -}}

{{/* vllm-models.launcher: how a multi-node group forms one vLLM, "native" or "ray" (auto resolved by the image's vLLM version, rules.yaml vllm.nativeMultiNode); "" for one node. */}}
{{- define "vllm-models.launcher" -}}
{{- if eq (include "vllm-models.isGroup" .) "true" -}}
{{- $launcher := .Values.multiNode.launcher -}}
{{- if eq $launcher "auto" -}}
{{- $from := (include "vllm-models.rules" . | fromYaml).vllm.nativeMultiNode.from -}}
{{- $launcher = ternary "native" "ray" (semverCompare (printf ">=%s" $from) (include "vllm-models.vllmVersion" .)) -}}
{{- end -}}
{{- $launcher -}}
{{- end -}}
{{- end -}}

{{/* vllm-models.rayScript: where the image keeps vLLM's multi-node-serving.sh (rules.yaml vllm.rayScript, by the image's vLLM version). */}}
{{- define "vllm-models.rayScript" -}}
{{- $version := include "vllm-models.vllmVersion" . -}}
{{- $path := "" -}}
{{- range (include "vllm-models.rules" . | fromYaml).vllm.rayScript -}}
{{- if semverCompare (printf ">=%s" .from) $version }}{{ $path = .path }}{{ end -}}
{{- end -}}
{{- $path -}}
{{- end -}}

{{/* vllm-models.launch: the vLLM container's command and args for a role (dict "root" $ "role" server|leader|worker), as YAML {command, args}. */}}
{{- define "vllm-models.launch" -}}
{{- $root := .root -}}
{{- $role := .role -}}
{{- if not (has $role (list "server" "leader" "worker")) -}}
{{- fail (printf "vllm-models.launch: role %q is not server, leader or worker" $role) -}}
{{- end -}}
{{- $launcher := include "vllm-models.launcher" $root -}}
{{- /* Seed 003's page-cache drop runs first in every shape (privileged; see dropPageCache). */ -}}
{{- $drop := ternary "sync && echo 3 > /proc/sys/vm/drop_caches && " "" $root.Values.dropPageCache.enabled -}}
{{- $args := include "vllm-models.args" (dict "root" $root "role" $role) | fromYamlArray -}}
{{- if and (eq $launcher "ray") (eq $role "worker") -}}
{{- /* A Ray worker joins the head and blocks; the leader's vLLM runs the model on it through Ray. */ -}}
{{- $join := printf "exec bash %s worker --ray_address=$(LWS_LEADER_ADDRESS)" (include "vllm-models.rayScript" $root) -}}
{{- toYaml (dict "command" (list "/bin/sh" "-c" (printf "%s%s" $drop $join))) -}}
{{- else if eq $launcher "ray" -}}
{{- /* The leader starts the Ray head, waits until every node of the group joined (the slowest may
       still be downloading: the wait is the download limit plus the load budget), then serves. */ -}}
{{- $wait := add (include "vllm-models.downloadSeconds" $root | int) (include "vllm-models.startupBudgetSeconds" $root | int) -}}
{{- $head := printf "bash %s leader --ray_cluster_size=%d --ray_init_timeout=%d" (include "vllm-models.rayScript" $root) (include "vllm-models.nodes" $root | int) $wait -}}
{{- toYaml (dict "command" (list "/bin/sh" "-c" (printf "%s%s && exec vllm serve \"$@\"" $drop $head) "vllm-serve") "args" $args) -}}
{{- else if $root.Values.dropPageCache.enabled -}}
{{- toYaml (dict "command" (list "/bin/sh" "-c" (printf "%sexec vllm serve \"$@\"" $drop) "vllm-serve") "args" $args) -}}
{{- else -}}
{{- toYaml (dict "command" (list "vllm" "serve") "args" $args) -}}
{{- end -}}
{{- end -}}

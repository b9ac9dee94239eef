{{/* vllm-models.metricNames: vLLM's Prometheus series for the release's vLLM version, as YAML; the one place the chart names them. */}}
{{- define "vllm-models.metricNames" -}}
{{- /* vLLM renames a metric, deprecates the old name, hides it, then removes it (gpu_cache_usage_perc became
       kv_cache_usage_perc, time_per_output_token_seconds inter_token_latency_seconds, gpu_prefix_cache_*
       prefix_cache_*): vllm-versions.yaml, generated from the catalogs, names for each purpose the series
       this version exports (tests/test_prometheusrule.py checks every name against the version's catalog). */ -}}
{{- toYaml (include "vllm-models.vllmFacts" . | fromYaml).metrics -}}
{{- end -}}

{{/* vllm-models.metricSelector: PromQL label matchers for this release's series (vLLM labels them with the served model name). */}}
{{- define "vllm-models.metricSelector" -}}
{{- printf "namespace=%q, model_name=%q" .Release.Namespace .Values.deployment.servedModelName -}}
{{- end -}}

{{/* vllm-models.monitoringEnabled: "true" when the monitoring object (dict "root" $ "key" "serviceMonitor" "api" "<group/version/Kind>") renders. */}}
{{- define "vllm-models.monitoringEnabled" -}}
{{- $root := .root -}}
{{- $own := get (get $root.Values .key) "enabled" -}}
{{- $global := $root.Values.global.monitoring.enabled -}}
{{- if kindIs "bool" $own -}}
{{- $own -}}
{{- else if kindIs "bool" $global -}}
{{- $global -}}
{{- else -}}
{{- $root.Capabilities.APIVersions.Has .api -}}
{{- end -}}
{{- end -}}

{{/* vllm-models.extraLabels: labels from values keys (dict "root" $ "sets" (list (list "<key>" <map>) ...)), first key winning, as YAML lines. */}}
{{- define "vllm-models.extraLabels" -}}
{{- $chartLabels := include "vllm-models.labels" .root | fromYaml -}}
{{- $merged := dict -}}
{{- range $set := .sets -}}
{{- $key := index $set 0 -}}
{{- range $name, $value := index $set 1 | default dict -}}
{{- if hasKey $chartLabels $name -}}
{{- fail (printf "vllm-models: %s sets the label %s, which the chart sets itself; choose another label name" $key $name) -}}
{{- end -}}
{{- if not (hasKey $merged $name) -}}
{{- $_ := set $merged $name $value -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $name, $value := $merged }}
{{ $name }}: {{ $value | quote }}
{{- end -}}
{{- end -}}

{{/* vllm-models.monitoringLabels: the chart's labels, the object's own (dict "root" $ "key" "<values key>"), and the labels Prometheus selects by. */}}
{{- define "vllm-models.monitoringLabels" -}}
{{- $own := get (get .root.Values .key) "labels" -}}
{{- include "vllm-models.labels" .root }}
{{- include "vllm-models.extraLabels" (dict "root" .root "sets" (list (list (printf "%s.labels" .key) $own) (list "global.monitoring.prometheusSelectorLabels" .root.Values.global.monitoring.prometheusSelectorLabels))) }}
{{- end -}}

{{/* vllm-models.durationSeconds: a Prometheus duration such as 1m30s in seconds, for comparisons. */}}
{{- define "vllm-models.durationSeconds" -}}
{{- $units := dict "ms" 0.001 "s" 1 "m" 60 "h" 3600 "d" 86400 "w" 604800 "y" 31536000 -}}
{{- $total := 0.0 -}}
{{- range regexFindAll "[0-9]+(ms|s|m|h|d|w|y)" . -1 -}}
{{- $unit := regexFind "(ms|s|m|h|d|w|y)$" . -}}
{{- $total = addf $total (mulf (trimSuffix $unit . | float64) (get $units $unit)) -}}
{{- end -}}
{{- $total -}}
{{- end -}}

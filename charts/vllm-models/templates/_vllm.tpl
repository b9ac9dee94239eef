{{/* vllm-models.vllmVersion: the release's vLLM version as plain semver (v0.11.0-cu128 -> 0.11.0), for semverCompare. */}}
{{- define "vllm-models.vllmVersion" -}}
{{- include "vllm-models.imageTag" . | trimPrefix "v" | regexFind "^[0-9]+\\.[0-9]+\\.[0-9]+" -}}
{{- end -}}

{{/* vllm-models.vllmFacts: what the release's vLLM version has, as YAML: the entry of vllm-versions.yaml (generated
     from the catalogs by `make generate-vllm-versions`) of the newest catalogued version at or below it, with
     `recorded: true`; a version older than every entry gets the oldest entry with `recorded: false`. */}}
{{- define "vllm-models.vllmFacts" -}}
{{- $version := include "vllm-models.vllmVersion" . -}}
{{- $entries := (.Files.Get "vllm-versions.yaml" | fromYaml).versions -}}
{{- $chosen := dict -}}
{{- if $version -}}
{{- range $entries -}}
{{- if semverCompare (printf ">=%s" .version) $version }}{{ $chosen = . }}{{ end -}}
{{- end -}}
{{- end -}}
{{- toYaml (merge (dict "recorded" (not (empty $chosen))) (default (first $entries) $chosen)) -}}
{{- end -}}

{{/* vllm-models.firstVersionWith: the oldest catalogued vLLM version that has a flag (dict "root" $ "flag" "--x"), or "" when none has it; for messages. */}}
{{- define "vllm-models.firstVersionWith" -}}
{{- $first := "" -}}
{{- range (.root.Files.Get "vllm-versions.yaml" | fromYaml).versions -}}
{{- if and (not $first) (index .flags $.flag) }}{{ $first = .version }}{{ end -}}
{{- end -}}
{{- $first -}}
{{- end -}}

{{/* vllm-models.shutdownTimeout: the --shutdown-timeout the chart renders, vLLM's own drain on SIGTERM (0: none; vLLM
     then aborts in-flight requests): deployment.shutdownTimeoutSeconds, or when null the grace period less the
     preStop pause and rules.yaml shutdown.exitMarginSeconds (vLLM's exit after the drain), so the grace period
     always covers pause + drain. 0 where the release's vLLM has no --shutdown-timeout. */}}
{{- define "vllm-models.shutdownTimeout" -}}
{{- $d := .Values.deployment -}}
{{- if not (index (include "vllm-models.vllmFacts" . | fromYaml).flags "--shutdown-timeout") -}}
{{- 0 -}}
{{- else if not (kindIs "invalid" $d.shutdownTimeoutSeconds) -}}
{{- int $d.shutdownTimeoutSeconds -}}
{{- else -}}
{{- $margin := int (include "vllm-models.rules" . | fromYaml).shutdown.exitMarginSeconds -}}
{{- max 0 (sub (sub (int (include "vllm-models.terminationGracePeriodSeconds" .)) (int $d.preStopSleepSeconds)) $margin) -}}
{{- end -}}
{{- end -}}

{{/* vllm-models.drainSeconds: how long vLLM drains on SIGTERM, read from the serving command line as the policies
     read it (the last of rules.yaml shutdown.drainFlags), else 0. */}}
{{- define "vllm-models.drainSeconds" -}}
{{- $args := include "vllm-models.args" (dict "root" . "role" "server") | fromYamlArray -}}
{{- include "vllm-models.flagValue" (dict "args" $args "names" (include "vllm-models.rules" . | fromYaml).shutdown.drainFlags) | default "0" | int -}}
{{- end -}}

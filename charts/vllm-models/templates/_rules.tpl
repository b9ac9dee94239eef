{{/* vllm-models.rules: the rule data of rules.yaml (patterns, flag lists), as YAML (parse with fromYaml). */}}
{{- define "vllm-models.rules" -}}
{{- .Files.Get "rules.yaml" | fromYaml | dig "rules" dict | toYaml -}}
{{- end -}}

{{/* vllm-models.flagValue: the value the last of `names` gets in the argument list `args` (`--f v` or `--f=v`), or "". Call with (dict "args" LIST "names" LIST). */}}
{{- define "vllm-models.flagValue" -}}
{{- $value := "" -}}
{{- $args := .args | default list -}}
{{- range $index, $arg := $args -}}
{{- $arg = toString $arg -}}
{{- range $name := $.names -}}
{{- if hasPrefix (printf "%s=" $name) $arg -}}
{{- $value = trimPrefix (printf "%s=" $name) $arg -}}
{{- else if and (eq $arg $name) (lt (add1 $index) (len $args)) -}}
{{- $value = toString (index $args (add1 $index)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $value -}}
{{- end -}}

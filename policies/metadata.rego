# Metadata and APIs: every object says what it is and is servable by the pinned Kubernetes.
package main

standard_labels := [
	"app.kubernetes.io/name",
	"app.kubernetes.io/instance",
	"app.kubernetes.io/version",
	"app.kubernetes.io/component",
	"app.kubernetes.io/part-of",
	"app.kubernetes.io/managed-by",
	"helm.sh/chart",
]

# METADATA
# title: Standard labels
# description: every object, and every pod template, carries the app.kubernetes.io/{name,instance,version,component,part-of,managed-by} and helm.sh/chart labels.
# custom:
#   source: Kubernetes "Recommended Labels" and Helm "Labels and Annotations" best practices
#   severity: deny
deny_standard_labels contains msg if {
	some obj in objects
	missing := missing_labels(object.get(obj.metadata, "labels", {}))
	count(missing) > 0
	msg := format("[standard_labels] %v %v: lacks labels %v; stamp the chart's standard labels (vllm-models.labels)", [obj.kind, obj.metadata.name, concat(", ", missing)])
}

deny_standard_labels contains msg if {
	some pod in pods
	pod.kind != "Pod"
	missing := missing_labels(pod.labels)
	count(missing) > 0
	msg := format("[standard_labels] %v pod template: lacks labels %v; stamp the chart's standard labels (vllm-models.labels)", [subject(pod), concat(", ", missing)])
}

missing_labels(labels) := [name | some name in standard_labels; not labels[name]]

# METADATA
# title: No removed API versions
# description: no object uses an apiVersion that the pinned Kubernetes version (data.kubernetes.version, else any version) no longer serves; the table is policies/data/removed_apis.yaml.
# custom:
#   source: Kubernetes "Deprecated API Migration Guide" (kubernetes.io/docs/reference/using-api/deprecation-guide)
#   severity: deny
deny_removed_api contains msg if {
	some obj in objects
	some removal in data.removedApis
	obj.apiVersion == removal.apiVersion
	obj.kind in removal.kinds
	minor_version(removal.removedIn) <= minor_version(kubernetes_version)
	msg := format("[removed_api] %v %v: %v is not served since Kubernetes %v (target %v); use %v", [obj.kind, obj.metadata.name, obj.apiVersion, removal.removedIn, kubernetes_version, removal.replacement])
}

# Without a pinned version every removed API fails: the strictest reading.
kubernetes_version := data.kubernetes.version if {
	data.kubernetes.version
} else := "any"

# major x 1000 + minor: one number, so versions compare with < and >=.
minor_version(version) := 999999 if version == "any"

minor_version(version) := (number(parts[0]) * 1000) + number(parts[1]) if {
	version != "any"
	parts := split(trim_prefix(version, "v"), ".")
}

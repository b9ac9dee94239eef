# Shared helpers for every policy: what the input is, which objects are pods, and the seeds'
# tables (data.sizing from charts/vllm-models/sizing.yaml) and rule data (data.rules from
# charts/vllm-models/rules.yaml). No deny/warn rules here.
#
# Rules read manifests only through `objects` (never `input` directly), so a Rego unit test
# mocks one value (`with data.main.objects as [...]`).
package main

# vllm_models.policy writes each release as one `List` document whose items are the release's
# objects, annotated with its environment and release, and runs every release through one
# `conftest test` (no --combine: results come back per file, one file per release). A user may
# also run `conftest test --combine <environment>/<release>.yaml` on a rendered release: the input
# is then a list of {path, contents}, one per document.
objects := input.items if {
	input.kind == "List"
	is_array(input.items)
} else := [item.contents | some item in input; is_object(item.contents)] if {
	is_array(input)
} else := [input] if {
	is_object(input)
} else := []

# The release being checked: the List's annotations, or the combined input's path `<environment>/<release>.yaml`.
target := {"environment": annotations["vllm-models.io/environment"], "release": annotations["vllm-models.io/release"]} if {
	input.kind == "List"
	annotations := input.metadata.annotations
} else := {"environment": parts[count(parts) - 2], "release": trim_suffix(parts[count(parts) - 1], ".yaml")} if {
	parts := split(input[0].path, "/")
	count(parts) >= 2
}

pod_template_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}

# Every pod the release can create: {kind, name, metadata, spec, labels, annotations (the pod's),
# progress_deadline, role,
# template, size, leader}. A LeaderWorkerSet (one model over several nodes) gives two: its leader
# template and, with size > 1, its worker template; every rule over `pods` covers both.
# An array, not a set: pods keep the manifests' order, and no pod is hashed whole.
pods := array.concat(
	array.concat(
		[pod_view(obj, obj.spec.template) | some obj in objects; obj.kind in pod_template_kinds],
		lws_pods,
	),
	array.concat(
		[pod_view(obj, obj.spec.jobTemplate.spec.template) | some obj in objects; obj.kind == "CronJob"],
		[pod_view(obj, obj) | some obj in objects; obj.kind == "Pod"],
	),
)

pod_view(obj, template) := {
	"kind": obj.kind,
	"name": obj.metadata.name,
	"metadata": obj.metadata,
	"spec": template.spec,
	"labels": object.get(template, ["metadata", "labels"], {}),
	"annotations": object.get(template, ["metadata", "annotations"], {}),
	# Deployments only; the whole object is not carried along.
	"progress_deadline": object.get(obj, ["spec", "progressDeadlineSeconds"], 600),
	# One pod serves a replica (role server); a group's pods are its leader and workers.
	"role": "server",
	"template": "template",
	"size": 1,
	"leader": template.spec,
}

# --- LeaderWorkerSet (leaderworkerset.x-k8s.io/v1): a group of `size` pods per replica --------

# The leader runs vLLM's API server; the workers join it and serve nothing. Without a
# leaderTemplate the leader runs the workerTemplate. The controller labels every pod with the
# set's name and the pod's index in its group ("0" on the leader): the views carry those labels,
# so selectors are judged against the pods as they run (kubernetes-sigs/lws v0.10.0,
# site/content/en/docs/reference/labels-annotations-and-environment-variables.md).
lws_pods := array.concat(
	[lws_view(obj, "leader", lws_leader_field(obj), "0") | some obj in objects; obj.kind == "LeaderWorkerSet"],
	[lws_view(obj, "worker", "workerTemplate", "1") |
		some obj in objects
		obj.kind == "LeaderWorkerSet"
		lws_size(obj) > 1
	],
)

lws_size(obj) := object.get(obj.spec.leaderWorkerTemplate, "size", 1)

lws_leader_field(obj) := "leaderTemplate" if obj.spec.leaderWorkerTemplate.leaderTemplate

lws_leader_field(obj) := "workerTemplate" if not obj.spec.leaderWorkerTemplate.leaderTemplate

lws_view(obj, role, field, index) := {
	"kind": obj.kind,
	"name": obj.metadata.name,
	"metadata": obj.metadata,
	"spec": obj.spec.leaderWorkerTemplate[field].spec,
	"annotations": object.get(obj.spec.leaderWorkerTemplate[field], ["metadata", "annotations"], {}),
	"labels": object.union(object.get(obj.spec.leaderWorkerTemplate[field], ["metadata", "labels"], {}), {
		"leaderworkerset.sigs.k8s.io/name": obj.metadata.name,
		"leaderworkerset.sigs.k8s.io/worker-index": index,
	}),
	# A LeaderWorkerSet has no progress deadline; rules that read one check the kind.
	"progress_deadline": 0,
	"role": role,
	"template": field,
	"size": lws_size(obj),
	"leader": obj.spec.leaderWorkerTemplate[lws_leader_field(obj)].spec,
}

# Pods that serve traffic: everything but helm hooks (the `helm test` Pod).
serving_pods := [pod | some pod in pods; not helm_hook(pod.metadata)]

helm_hook(metadata) if metadata.annotations["helm.sh/hook"]

containers(spec) := array.concat(object.get(spec, "initContainers", []), object.get(spec, "containers", []))

gpu_workload_kinds := {"Deployment", "LeaderWorkerSet"}

# GPU workloads: Deployments, and the leader and worker templates of LeaderWorkerSets, whose
# container asks for nvidia.com/gpu. Each entry carries the GPU container and the group's vLLM
# command line (the leader's: a Ray worker runs no vLLM of its own) with the parallelism parsed
# from it (once, for every rule), the served model, the pods per replica (`nodes`) and whether
# this pod serves the API (`serves`: not a group's workers). The name stays for the rules'
# sake; it covers every GPU workload kind.
gpu_deployments := [{
	"pod": pod, "container": c, "cmd": cmd, "gpus": gpu_limit(c), "parallelism": parallelism(cmd, positions),
	"model": served_model(leader, cmd, positions), "nodes": pod.size, "serves": pod.role != "worker",
} |
	some pod in pods
	pod.kind in gpu_workload_kinds
	some c in pod.spec.containers
	gpu_limit(c) > 0
	leader := group_container(pod, c)
	cmd := command_line(leader)
	positions := flag_positions(cmd)
]

# The container whose command line starts the group's vLLM: the pod's own, or its leader's twin.
group_container(pod, c) := c if pod.role != "worker"

group_container(pod, c) := leader if {
	pod.role == "worker"
	some leader in pod.leader.containers
	leader.name == c.name
}

# GPUs one pod uses, by its limit or by the command line: a group's parallelism spans its nodes.
pod_gpus(w) := larger(w.gpus, w.parallelism.gpus) if w.nodes == 1

pod_gpus(w) := larger(w.gpus, ceil(w.parallelism.gpus / w.nodes)) if w.nodes != 1

command_line(c) := array.concat(object.get(c, "command", []), object.get(c, "args", []))

gpu_limit(c) := number(c.resources.limits["nvidia.com/gpu"])

# Messages: format(template, args) replaces each %v with the next argument, strings as they
# are and anything else as sprintf's %v prints it.
format(template, args) := concat("", [piece |
	parts := split(template, "%v")
	some i
	part := parts[i]
	piece := concat("", [part, placeholder(args, i)])
])

placeholder(args, i) := text(args[i]) if i < count(args)

placeholder(args, i) := "" if i >= count(args)

text(value) := value if is_string(value)

text(value) := sprintf("%v", [value]) if not is_string(value)

# "<Kind> <name>" and "<Kind> <name> container <c>" as every message starts; a group's pods
# name their template: "LeaderWorkerSet <name> workerTemplate container <c>".
subject(pod) := format("%v %v", [pod.kind, pod.name]) if pod.role == "server"

subject(pod) := format("%v %v %v", [pod.kind, pod.name, pod.template]) if pod.role != "server"

container_subject(pod, c) := format("%v container %v", [subject(pod), c.name])

# --- vLLM command lines ------------------------------------------------------------------

# The flags of a command line in order, as [name, index]. conftest evaluates every rule in a query of its
# own, with nothing shared between them, so gpu_deployments (read by most rules) scans each command line
# once here and every flag it looks up reads this list instead of the arguments.
flag_positions(cmd) := [[flag_name(arg), i] | some i; arg := cmd[i]; startswith(arg, "-")]

# The value of a flag given as `--flag value` or `--flag=value`; the last one wins (argparse).
flag(cmd, positions, names) := flag_value(cmd, hits[count(hits) - 1]) if {
	hits := [position[1] | some position in positions; position[0] in names]
	count(hits) > 0
}

# The flag an argument names: `--flag`, or the part of `--flag=value` before the `=`.
flag_name(arg) := substring(arg, 0, indexof(arg, "=")) if contains(arg, "=")

flag_name(arg) := arg if not contains(arg, "=")

flag_value(cmd, i) := substring(cmd[i], indexof(cmd[i], "=") + 1, -1) if contains(cmd[i], "=")

flag_value(cmd, i) := cmd[i + 1] if not contains(cmd[i], "=")

flag_number(cmd, positions, names, default_value) := n if {
	n := number(flag(cmd, positions, names))
} else := default_value

# vLLM accepts dashes or underscores in long flags and these short forms.
tensor_parallel_flags := {"--tensor-parallel-size", "--tensor_parallel_size", "-tp"}

pipeline_parallel_flags := {"--pipeline-parallel-size", "--pipeline_parallel_size", "-pp"}

data_parallel_flags := {"--data-parallel-size", "--data_parallel_size", "-dp"}

# GPUs one vLLM server uses: tensor x pipeline x data parallel (each defaults to 1).
parallelism(cmd, positions) := {"tp": tp, "pp": pp, "dp": dp, "gpus": (tp * pp) * dp} if {
	tp := flag_number(cmd, positions, tensor_parallel_flags, 1)
	pp := flag_number(cmd, positions, pipeline_parallel_flags, 1)
	dp := flag_number(cmd, positions, data_parallel_flags, 1)
}

served_model(c, cmd, positions) := path if {
	path := model_path_at(c, cmd, positions)
} else := ""

# The served model: `--model`, else `vllm serve`'s first positional argument.
model_path(c) := model_path_at(c, cmd, flag_positions(cmd)) if cmd := command_line(c)

model_path_at(c, cmd, positions) := path if {
	path := flag(cmd, positions, {"--model"})
} else := c.args[0] if {
	not startswith(c.args[0], "-")
}

# --- Quantities and probes --------------------------------------------------------------

quantity(q) := units.parse(text(q))

# A number, or a string holding one; undefined otherwise (to_number would raise).
number(v) := v if is_number(v)

number(v) := to_number(v) if {
	is_string(v)
	regex.match(`^-?[0-9]+(\.[0-9]+)?$`, v)
}

whole_number(v) if {
	n := number(v)
	n == floor(n)
}

larger(a, b) := a if a >= b

larger(a, b) := b if a < b

# The longest a probe lets a container go unanswered before acting (Kubernetes defaults).
probe_window(probe) := object.get(probe, "initialDelaySeconds", 0) + (object.get(probe, "failureThreshold", 3) * object.get(probe, "periodSeconds", 10))

# --- The seeds' tables (data.sizing) ----------------------------------------------------

# What the chart stamps on a GPU Deployment: size class and architecture labels, parameter annotation.
model_facts(pod) := {
	"size_class": pod.metadata.labels["vllm-models.io/size-class"],
	"architecture": object.get(pod.metadata.labels, "vllm-models.io/architecture", "dense"),
	"parameters": number(pod.metadata.annotations["vllm-models.io/parameters-billions"]),
}

size_class(name) := row if {
	some row in data.sizing.sizeClasses
	row.name == name
}

# Rows apply from their minimum upwards; the last matching row wins, as in the chart.
size_class_for(parameters) := rows[count(rows) - 1].name if {
	rows := [row | some row in data.sizing.sizeClasses; parameters >= row.minParamsB]
	count(rows) > 0
}

grace_seconds_for(parameters, architecture) := rows[count(rows) - 1].seconds if {
	rows := [row | some row in data.sizing.terminationGrace; parameters >= row.minParamsB; object.get(row, "architecture", architecture) == architecture]
	count(rows) > 0
}

# The least /dev/shm for `gpus` GPUs per pod: the row's floor, else its size.
shm_floor_for(gpus) := object.get(last, "floor", last.size) if {
	rows := [row | some row in data.sizing.sharedMemory; gpus >= row.minGPUs]
	count(rows) > 0
	last := rows[count(rows) - 1]
}

# --- Label selectors --------------------------------------------------------------------

# A Service's plain selector map.
selects(selector, labels) if {
	every key, value in selector {
		labels[key] == value
	}
}

# A metav1.LabelSelector (matchLabels and matchExpressions); an empty one selects every pod.
label_selector_matches(selector, labels) if {
	selects(object.get(selector, "matchLabels", {}), labels)
	every expression in object.get(selector, "matchExpressions", []) {
		expression_matches(expression, labels)
	}
}

expression_matches(e, labels) if {
	e.operator == "In"
	labels[e.key] in e.values
}

expression_matches(e, labels) if {
	e.operator == "NotIn"
	not labels[e.key] in e.values
}

expression_matches(e, labels) if {
	e.operator == "Exists"
	labels[e.key]
}

expression_matches(e, labels) if {
	e.operator == "DoesNotExist"
	not labels[e.key]
}

# "k=v, k2=v2", sorted, for messages.
label_text(labels) := concat(", ", sort([concat("=", [key, labels[key]]) | some key in object.keys(labels)]))

# Unit tests of the Gatekeeper template's Rego with external_data mocked (`with`), run under
# OPA's engine (tests/tests/admission.rs). regorus's `with` cannot replace a host extension
# (it accepts only its own builtins and policy functions as targets), so under regorus the same
# cases run through the admission evaluator with a fake provider (gatekeeper/src/admission).
package nv2verifiedimages_test

import future.keywords.every
import future.keywords.if
import future.keywords.in

import data.nv2verifiedimages

# A provider that verifies every key starting with "signed/" and rejects the rest.
mock_provider(request) := {
	"responses": array.concat(
		[[key, {"verified": true, "errors": []}] | some key in request.keys; startswith(key, "signed/")],
		[[key, {"verified": false, "errors": ["no signature verified"], "signatures": []}] |
			some key in request.keys
			not startswith(key, "signed/")
		],
	),
	"errors": [],
	"status_code": 200,
	"system_error": "",
}

# A provider that gives no answer at all (external_data undefined).
no_answer(_) := 1 if false

pod(spec) := {"review": {
	"kind": {"group": "", "version": "v1", "kind": "Pod"},
	"namespace": "apps",
	"operation": "CREATE",
	"object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "apps"}, "spec": spec},
}}

containers(images) := {"containers": [{"name": sprintf("c%d", [i]), "image": image} | some i, image in images]}

violations(in_put) := found if {
	found := nv2verifiedimages.violation with input as in_put with external_data as mock_provider
}

messages(in_put) := {v.msg | some v in violations(in_put)}

test_signed_image_is_allowed if {
	count(violations(pod(containers(["signed/app:v1"])))) == 0
}

test_unsigned_image_is_denied_with_its_reason if {
	messages(pod(containers(["unsigned/app:v1"]))) == {"image unsigned/app:v1: not verified: no signature verified"}
}

test_one_unsigned_container_among_signed_is_named if {
	msgs := messages(pod(containers(["signed/a:1", "unsigned/b:2", "signed/c:3"])))
	count(msgs) == 1
	some msg in msgs
	contains(msg, "unsigned/b:2")
}

test_init_and_ephemeral_containers_are_verified if {
	spec := {
		"containers": [{"name": "a", "image": "signed/a:1"}],
		"initContainers": [{"name": "i", "image": "unsigned/init:1"}],
		"ephemeralContainers": [{"name": "e", "image": "unsigned/debug:1"}],
	}
	nv2verifiedimages.keys == ["signed/a:1", "unsigned/debug:1", "unsigned/init:1"] with input as pod(spec) with external_data as mock_provider
	msgs := messages(pod(spec))
	count(msgs) == 2
	some init in msgs
	contains(init, "unsigned/init:1")
	some debug in msgs
	contains(debug, "unsigned/debug:1")
}

workload(kind, spec) := {"review": {
	"kind": {"group": "apps", "version": "v1", "kind": kind},
	"namespace": "apps",
	"operation": "CREATE",
	"object": {"kind": kind, "metadata": {"name": "w"}, "spec": spec},
}}

test_workload_pod_templates_are_verified if {
	every kind in ["Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet", "ReplicationController"] {
		in_put := workload(kind, {"template": {"spec": containers(["unsigned/app:v1"])}})
		messages(in_put) == {"image unsigned/app:v1: not verified: no signature verified"}
	}
}

test_cronjob_job_template_is_verified if {
	in_put := workload("CronJob", {"jobTemplate": {"spec": {"template": {"spec": containers(["signed/a:1", "unsigned/b:1"])}}}})
	nv2verifiedimages.keys == ["signed/a:1", "unsigned/b:1"] with input as in_put with external_data as mock_provider
	messages(in_put) == {"image unsigned/b:1: not verified: no signature verified"}
}

test_no_answer_fails_closed if {
	msgs := {v.msg | some v in nv2verifiedimages.violation with input as pod(containers(["signed/a:1"])) with external_data as no_answer}
	msgs == {"image signed/a:1: no answer from the nv2-verifier provider (failing closed)"}
}

test_system_error_fails_closed if {
	answer := {"responses": [], "errors": [], "status_code": 200, "system_error": "registry unreachable"}
	msgs := {v.msg | some v in nv2verifiedimages.violation with input as pod(containers(["signed/a:1", "signed/b:1"])) with external_data as answer}
	msgs == {
		"image signed/a:1: the nv2-verifier provider failed: registry unreachable",
		"image signed/b:1: the nv2-verifier provider failed: registry unreachable",
	}
}

test_key_error_fails_closed if {
	answer := {
		"responses": [["signed/a:1", {"verified": true}]],
		"errors": [["signed/b:1", "manifest unknown"]],
		"status_code": 200, "system_error": "",
	}
	msgs := {v.msg | some v in nv2verifiedimages.violation with input as pod(containers(["signed/a:1", "signed/b:1"])) with external_data as answer}
	msgs == {"image signed/b:1: not verified: manifest unknown"}
}

test_missing_report_fails_closed if {
	answer := {"responses": [["signed/a:1", {"verified": true}]], "errors": [], "status_code": 200, "system_error": ""}
	msgs := {v.msg | some v in nv2verifiedimages.violation with input as pod(containers(["signed/a:1", "signed/b:1"])) with external_data as answer}
	msgs == {"image signed/b:1: the nv2-verifier provider sent no report for it (failing closed)"}
}

test_http_error_status_fails_closed if {
	answer := {"responses": [["signed/a:1", {"verified": true}]], "errors": [], "status_code": 500, "system_error": ""}
	msgs := {v.msg | some v in nv2verifiedimages.violation with input as pod(containers(["signed/a:1"])) with external_data as answer}
	msgs == {"image signed/a:1: the nv2-verifier provider answered HTTP 500"}
}

test_malformed_report_fails_closed if {
	answer := {"responses": [["signed/a:1", "yes"]], "errors": [], "status_code": 200, "system_error": ""}
	msgs := {v.msg | some v in nv2verifiedimages.violation with input as pod(containers(["signed/a:1"])) with external_data as answer}
	msgs == {"image signed/a:1: not verified: the provider's value is no report: yes"}
}

test_signature_errors_are_the_reason_when_the_report_has_none if {
	report := {"verified": false, "errors": [], "signatures": [{"digest": "sha256:ab", "verified": false, "error": "authenticity: untrusted signer"}]}
	answer := {"responses": [["signed/a:1", report]], "errors": [], "status_code": 200, "system_error": ""}
	msgs := {v.msg | some v in nv2verifiedimages.violation with input as pod(containers(["signed/a:1"])) with external_data as answer}
	msgs == {"image signed/a:1: not verified: signature sha256:ab: authenticity: untrusted signer"}
}

test_exempt_namespace_is_allowed if {
	in_put := object.union(pod(containers(["unsigned/app:v1"])), {"parameters": {"exemptNamespaces": ["kube-system", "apps"]}})
	count(violations(in_put)) == 0
}

test_exempt_image_glob_is_allowed if {
	in_put := object.union(pod(containers(["registry.k8s.io/pause:3.9", "unsigned/app:v1"])), {"parameters": {"exemptImages": ["registry.k8s.io/*"]}})
	nv2verifiedimages.keys == ["unsigned/app:v1"] with input as in_put with external_data as mock_provider
	messages(in_put) == {"image unsigned/app:v1: not verified: no signature verified"}
}

test_nothing_to_verify_makes_no_call if {
	# A failing provider would deny; with no image it is never called.
	answer := {"responses": [], "errors": [], "status_code": 500, "system_error": "down"}
	in_put := pod({"containers": []})
	count(nv2verifiedimages.violation) == 0 with input as in_put with external_data as answer
}

# A provider that trusts per namespace: only `[team-a]` keys verify, and it answers by key.
namespaced_provider(request) := {
	"responses": [[key, {"verified": startswith(key, "[team-a]"), "errors": ["untrusted in this namespace"]}] | some key in request.keys],
	"errors": [],
	"status_code": 200,
	"system_error": "",
}

# An echo of the keys sent, as the one error of the first key.
keys_echo(request) := {"responses": [], "errors": [[request.keys[0], concat(",", request.keys)]], "status_code": 200, "system_error": ""}

in_namespace(ns, images, parameters) := {"review": {
	"kind": {"group": "", "version": "v1", "kind": "Pod"},
	"namespace": ns,
	"object": {"kind": "Pod", "metadata": {"name": "p", "namespace": ns}, "spec": containers(images)},
}, "parameters": parameters}

test_namespaced_keys_carry_the_namespace_and_map_back_to_images if {
	on := {"namespacedKeys": true}
	sent := {v.msg | some v in nv2verifiedimages.violation with input as in_namespace("team-a", ["r/b:1", "r/a:1"], on) with external_data as keys_echo}
	sent == {
		"image r/a:1: not verified: [team-a]r/a:1,[team-a]r/b:1",
		"image r/b:1: the nv2-verifier provider sent no report for it (failing closed)",
	}
	allowed := {v.msg | some v in nv2verifiedimages.violation with input as in_namespace("team-a", ["r/a:1"], on) with external_data as namespaced_provider}
	count(allowed) == 0
	denied := {v.msg | some v in nv2verifiedimages.violation with input as in_namespace("team-b", ["r/a:1"], on) with external_data as namespaced_provider}
	denied == {"image r/a:1: not verified: untrusted in this namespace"}
}

test_keys_are_bare_images_without_the_parameter if {
	in_put := in_namespace("team-a", ["r/a:1"], {"namespacedKeys": false})
	sent := {v.msg | some v in nv2verifiedimages.violation with input as in_put with external_data as keys_echo}
	sent == {"image r/a:1: not verified: r/a:1"}
	# Without the prefix the provider cannot pick the namespace's policy.
	denied := {v.msg | some v in nv2verifiedimages.violation with input as in_put with external_data as namespaced_provider}
	denied == {"image r/a:1: not verified: untrusted in this namespace"}
}

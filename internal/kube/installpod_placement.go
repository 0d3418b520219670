package kube

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// Placement and policy of the install pods: the rules, written once (Validate applies them
// and the provider wraps the same functions as plan-time validators), and their pod fields.

// EntryError is a problem with one entry of a list (Index counts from 0).
type EntryError struct {
	Index int
	Err   error
}

func (e *EntryError) Error() string { return fmt.Sprintf("entry %d: %v", e.Index, e.Err) }
func (e *EntryError) Unwrap() error { return e.Err }

// CheckNodeSelector: node label keys and values.
func CheckNodeSelector(m map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			return fmt.Errorf("node label key %q is invalid: %s", k, msgs[0])
		}
		if msgs := validation.IsValidLabelValue(m[k]); len(msgs) > 0 {
			return fmt.Errorf("node label %q has an invalid value %q: %s", k, m[k], msgs[0])
		}
	}
	return nil
}

// CheckTolerations applies the API server's rules for tolerations; the error for an entry
// is an *EntryError.
func CheckTolerations(ts []Toleration) error {
	for i, t := range ts {
		if err := checkToleration(t); err != nil {
			return &EntryError{Index: i, Err: err}
		}
	}
	return nil
}

func checkToleration(t Toleration) error {
	if t.Key != "" {
		if msgs := validation.IsQualifiedName(t.Key); len(msgs) > 0 {
			return fmt.Errorf("key %q is not a taint key: %s", t.Key, msgs[0])
		}
	}
	switch t.Operator {
	case "", TolerationEqual:
		if t.Key == "" {
			return errors.New(`an empty key (every taint) needs operator "Exists"`)
		}
		if msgs := validation.IsValidLabelValue(t.Value); len(msgs) > 0 {
			return fmt.Errorf("value %q is not a taint value: %s", t.Value, msgs[0])
		}
	case TolerationExists:
		if t.Value != "" {
			return fmt.Errorf(`operator "Exists" matches any value: leave value unset (it is %q)`, t.Value)
		}
	default:
		return fmt.Errorf(`operator %q must be "Equal" or "Exists"`, t.Operator)
	}
	if t.Effect != "" && !slices.Contains(taintEffects, t.Effect) {
		return fmt.Errorf("effect %q must be one of %s, or unset for all effects", t.Effect, strings.Join(taintEffects, ", "))
	}
	if t.Seconds != nil {
		if t.Effect != "NoExecute" {
			return errors.New(`toleration_seconds needs effect "NoExecute"`)
		}
		if *t.Seconds < 0 {
			return fmt.Errorf("toleration_seconds %d must not be negative", *t.Seconds)
		}
	}
	return nil
}

func podTolerations(ts []Toleration) []corev1.Toleration {
	var out []corev1.Toleration
	for _, t := range ts {
		op := corev1.TolerationOpEqual
		if t.Operator == TolerationExists {
			op = corev1.TolerationOpExists
		}
		var secs *int64
		if t.Seconds != nil {
			secs = &[]int64{*t.Seconds}[0]
		}
		out = append(out, corev1.Toleration{Key: t.Key, Operator: op, Value: t.Value, Effect: corev1.TaintEffect(t.Effect), TolerationSeconds: secs})
	}
	return out
}

// CheckAffinity: a Kubernetes affinity (YAML or JSON) with only the fields Kubernetes
// knows, and the rules the API server applies to them.
func CheckAffinity(s string) error {
	_, err := decodeAffinity(s)
	return err
}

// podAffinity is the decoded affinity; nil when none is set (or it is invalid: the spec
// should have been validated).
func podAffinity(s string) *corev1.Affinity {
	a, err := decodeAffinity(s)
	if err != nil {
		return nil
	}
	return a
}

func decodeAffinity(s string) (*corev1.Affinity, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	j, err := yaml.YAMLToJSON([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("not valid YAML or JSON (%s)", strings.TrimPrefix(err.Error(), "error converting YAML to JSON: "))
	}
	var doc any
	if err := json.Unmarshal(j, &doc); err != nil {
		return nil, errors.New("not valid YAML or JSON")
	}
	if _, ok := doc.(map[string]any); !ok {
		return nil, errors.New("not a mapping with nodeAffinity, podAffinity or podAntiAffinity")
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	var a corev1.Affinity
	if err := dec.Decode(&a); err != nil {
		return nil, affinityDecodeError(err)
	}
	if a.NodeAffinity == nil && a.PodAffinity == nil && a.PodAntiAffinity == nil {
		return nil, errors.New("it sets none of nodeAffinity, podAffinity and podAntiAffinity")
	}
	if err := checkAffinityRules(&a); err != nil {
		return nil, err
	}
	return &a, nil
}

var unknownFieldRE = regexp.MustCompile(`unknown field "([^"]*)"`)

// affinityDecodeError says what is wrong in the user's words (field names as written,
// no Go types).
func affinityDecodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		field := typeErr.Field
		if field == "" {
			field = "the document"
		}
		want, got := jsonKind(typeErr.Type), jsonValueWords(typeErr.Value)
		if want == "a string" && (got == "a number" || got == "true or false") {
			got += " (quote it)"
		}
		return fmt.Errorf("field %s must be %s, not %s", field, want, got)
	}
	if m := unknownFieldRE.FindStringSubmatch(err.Error()); m != nil {
		return fmt.Errorf("unknown field %q (field names are Kubernetes', e.g. nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms)", m[1])
	}
	return errors.New("not a Kubernetes affinity")
}

func jsonKind(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "another kind of value"
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "a mapping"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16,
		reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "another kind of value"
}

func jsonValueWords(v string) string {
	switch {
	case v == "array":
		return "a list"
	case v == "object":
		return "a mapping"
	case v == "bool":
		return "true or false"
	case v == "string":
		return "a string"
	case strings.HasPrefix(v, "number"):
		return "a number"
	}
	return v
}

var (
	nodeSelectorOperators = []corev1.NodeSelectorOperator{corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn,
		corev1.NodeSelectorOpExists, corev1.NodeSelectorOpDoesNotExist, corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt}
	labelSelectorOperators = []metav1.LabelSelectorOperator{metav1.LabelSelectorOpIn, metav1.LabelSelectorOpNotIn,
		metav1.LabelSelectorOpExists, metav1.LabelSelectorOpDoesNotExist}
)

// checkAffinityRules: what the API server would refuse about a decoded affinity, with the
// field path as the user wrote it.
func checkAffinityRules(a *corev1.Affinity) error {
	if na := a.NodeAffinity; na != nil {
		if req := na.RequiredDuringSchedulingIgnoredDuringExecution; req != nil {
			p := "nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
			if len(req.NodeSelectorTerms) == 0 {
				return fmt.Errorf("%s.nodeSelectorTerms must have at least one term", p)
			}
			for i, term := range req.NodeSelectorTerms {
				if err := checkNodeSelectorTerm(fmt.Sprintf("%s.nodeSelectorTerms[%d]", p, i), term, true); err != nil {
					return err
				}
			}
		}
		for i, pref := range na.PreferredDuringSchedulingIgnoredDuringExecution {
			p := fmt.Sprintf("nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[%d]", i)
			if pref.Weight < 1 || pref.Weight > 100 {
				return fmt.Errorf("%s.weight must be between 1 and 100", p)
			}
			if err := checkNodeSelectorTerm(p+".preference", pref.Preference, false); err != nil {
				return err
			}
		}
	}
	if pa := a.PodAffinity; pa != nil {
		if err := checkPodAffinityTerms("podAffinity", pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution); err != nil {
			return err
		}
	}
	if pa := a.PodAntiAffinity; pa != nil {
		if err := checkPodAffinityTerms("podAntiAffinity", pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution); err != nil {
			return err
		}
	}
	return nil
}

func checkNodeSelectorTerm(p string, term corev1.NodeSelectorTerm, required bool) error {
	if required && len(term.MatchExpressions) == 0 && len(term.MatchFields) == 0 {
		return fmt.Errorf("%s needs matchExpressions or matchFields", p)
	}
	for i, r := range term.MatchExpressions {
		rp := fmt.Sprintf("%s.matchExpressions[%d]", p, i)
		if msgs := validation.IsQualifiedName(r.Key); len(msgs) > 0 {
			return fmt.Errorf("%s.key %q is not a node label key: %s", rp, r.Key, msgs[0])
		}
		if err := checkRequirementValues(rp, string(r.Operator), r.Values); err != nil {
			return err
		}
	}
	for i, r := range term.MatchFields {
		rp := fmt.Sprintf("%s.matchFields[%d]", p, i)
		if r.Key != "metadata.name" {
			return fmt.Errorf("%s.key %q: the only node field is metadata.name", rp, r.Key)
		}
		if (r.Operator != corev1.NodeSelectorOpIn && r.Operator != corev1.NodeSelectorOpNotIn) || len(r.Values) != 1 {
			return fmt.Errorf("%s needs operator In or NotIn and exactly one value", rp)
		}
	}
	return nil
}

func checkRequirementValues(p, op string, values []string) error {
	switch op {
	case "In", "NotIn":
		if len(values) == 0 {
			return fmt.Errorf("%s: operator %s needs values", p, op)
		}
	case "Exists", "DoesNotExist":
		if len(values) > 0 {
			return fmt.Errorf("%s: operator %s takes no values", p, op)
		}
	case "Gt", "Lt":
		if len(values) != 1 {
			return fmt.Errorf("%s: operator %s needs exactly one value", p, op)
		}
		if _, err := strconv.ParseInt(values[0], 10, 64); err != nil {
			return fmt.Errorf("%s: operator %s needs a whole number, not %q", p, op, values[0])
		}
	default:
		ops := make([]string, len(nodeSelectorOperators))
		for i, o := range nodeSelectorOperators {
			ops[i] = string(o)
		}
		return fmt.Errorf("%s.operator %q must be one of %s", p, op, strings.Join(ops, ", "))
	}
	return nil
}

func checkPodAffinityTerms(kind string, required []corev1.PodAffinityTerm, preferred []corev1.WeightedPodAffinityTerm) error {
	for i, term := range required {
		if err := checkPodAffinityTerm(fmt.Sprintf("%s.requiredDuringSchedulingIgnoredDuringExecution[%d]", kind, i), term); err != nil {
			return err
		}
	}
	for i, w := range preferred {
		p := fmt.Sprintf("%s.preferredDuringSchedulingIgnoredDuringExecution[%d]", kind, i)
		if w.Weight < 1 || w.Weight > 100 {
			return fmt.Errorf("%s.weight must be between 1 and 100", p)
		}
		if err := checkPodAffinityTerm(p+".podAffinityTerm", w.PodAffinityTerm); err != nil {
			return err
		}
	}
	return nil
}

func checkPodAffinityTerm(p string, term corev1.PodAffinityTerm) error {
	if msgs := validation.IsQualifiedName(term.TopologyKey); len(msgs) > 0 {
		return fmt.Errorf("%s.topologyKey %q is not a node label key (e.g. kubernetes.io/hostname): %s", p, term.TopologyKey, msgs[0])
	}
	for _, ns := range []struct {
		name string
		sel  *metav1.LabelSelector
	}{{"labelSelector", term.LabelSelector}, {"namespaceSelector", term.NamespaceSelector}} {
		name, sel := ns.name, ns.sel
		if sel == nil {
			continue
		}
		for i, r := range sel.MatchExpressions {
			rp := fmt.Sprintf("%s.%s.matchExpressions[%d]", p, name, i)
			if !slices.Contains(labelSelectorOperators, r.Operator) {
				return fmt.Errorf("%s.operator %q must be one of In, NotIn, Exists, DoesNotExist", rp, r.Operator)
			}
		}
		if _, err := metav1.LabelSelectorAsSelector(sel); err != nil {
			return fmt.Errorf("%s.%s is not a valid label selector", p, name)
		}
	}
	for _, ns := range term.Namespaces {
		if err := CheckNamespace(ns); err != nil {
			return fmt.Errorf("%s.namespaces: %w", p, err)
		}
	}
	return nil
}

// CheckPriorityClassName: the name of a PriorityClass (a DNS-1123 subdomain); the
// cluster refuses the pod if the class does not exist.
func CheckPriorityClassName(s string) error {
	if s == "" {
		return nil
	}
	if msgs := validation.IsDNS1123Subdomain(s); len(msgs) > 0 {
		return fmt.Errorf("%q is not a PriorityClass name (a DNS-1123 subdomain: lower case letters, digits, '-' and '.', at most 253 characters)", s)
	}
	return nil
}

// CheckResources: known resource names, quantities Kubernetes parses, and no request
// above its limit once merged with DefaultInstallResources.
func CheckResources(r Resources) error {
	for _, part := range []struct {
		name string
		m    map[string]string
	}{{"requests", r.Requests}, {"limits", r.Limits}} {
		for _, k := range slices.Sorted(maps.Keys(part.m)) {
			if !slices.Contains(installResourceNames, k) {
				return fmt.Errorf("%s: %q is not one of %s", part.name, k, strings.Join(installResourceNames, ", "))
			}
			q, err := resource.ParseQuantity(part.m[k])
			if err != nil {
				return fmt.Errorf("%s.%s %q is not a quantity such as %s", part.name, k, part.m[k], quantityExample(k))
			}
			if q.Sign() <= 0 {
				return fmt.Errorf("%s.%s %q must be more than zero", part.name, k, part.m[k])
			}
		}
	}
	req, lim := mergedResources(r)
	for _, k := range slices.Sorted(maps.Keys(lim)) {
		rq, ok := req[k]
		lq := lim[k]
		if !ok || rq.Cmp(lq) <= 0 {
			continue
		}
		reqText, limText := rq.String(), lq.String()
		if _, set := r.Requests[k]; !set {
			return fmt.Errorf("the default requests.%s %s is more than limits.%s %s: set requests.%s too", k, reqText, k, limText, k)
		}
		if _, set := r.Limits[k]; !set {
			return fmt.Errorf("requests.%s %s is more than the default limits.%s %s: set limits.%s too", k, reqText, k, limText, k)
		}
		return fmt.Errorf("requests.%s %s is more than limits.%s %s", k, reqText, k, limText)
	}
	return nil
}

func quantityExample(name string) string {
	if name == "cpu" {
		return `"500m" or "2"`
	}
	return `"256Mi" or "1Gi"`
}

// mergedResources are the defaults with the user's values over them, name by name;
// unparsable quantities are left out (Validate refuses them).
func mergedResources(r Resources) (requests, limits map[string]resource.Quantity) {
	merge := func(def, user map[string]string) map[string]resource.Quantity {
		out := map[string]resource.Quantity{}
		for _, m := range []map[string]string{def, user} {
			for k, v := range m {
				if q, err := resource.ParseQuantity(v); err == nil {
					out[k] = q
				}
			}
		}
		return out
	}
	return merge(DefaultInstallResources.Requests, r.Requests), merge(DefaultInstallResources.Limits, r.Limits)
}

func containerResources(r Resources) corev1.ResourceRequirements {
	req, lim := mergedResources(r)
	list := func(m map[string]resource.Quantity) corev1.ResourceList {
		if len(m) == 0 {
			return nil
		}
		out := corev1.ResourceList{}
		for k, q := range m {
			out[corev1.ResourceName(k)] = q
		}
		return out
	}
	return corev1.ResourceRequirements{Requests: list(req), Limits: list(lim)}
}

// CheckImagePullSecrets: Secret names (DNS-1123 subdomains), each once; the error for an
// entry is an *EntryError.
func CheckImagePullSecrets(names []string) error {
	seen := map[string]bool{}
	for i, n := range names {
		if msgs := validation.IsDNS1123Subdomain(n); len(msgs) > 0 {
			return &EntryError{Index: i, Err: fmt.Errorf("%q is not a Secret name (a DNS-1123 subdomain: lower case letters, digits, '-' and '.', at most 253 characters)", n)}
		}
		if seen[n] {
			return &EntryError{Index: i, Err: fmt.Errorf("%q is listed twice", n)}
		}
		seen[n] = true
	}
	return nil
}

func pullSecrets(names []string) []corev1.LocalObjectReference {
	var out []corev1.LocalObjectReference
	for _, n := range names {
		out = append(out, corev1.LocalObjectReference{Name: n})
	}
	return out
}

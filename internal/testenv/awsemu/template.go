package awsemu

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// omap is a JSON/YAML object that keeps its key order: CloudFormation
// creates resources in template order here, so the order is observable.
type omap struct {
	keys []string
	vals map[string]any
}

func (m *omap) get(k string) (any, bool) {
	if m == nil {
		return nil, false
	}
	v, ok := m.vals[k]
	return v, ok
}

func (m *omap) set(k string, v any) {
	if _, ok := m.vals[k]; !ok {
		m.keys = append(m.keys, k)
	}
	m.vals[k] = v
}

func newOmap() *omap { return &omap{vals: map[string]any{}} }

func single(k string, v any) *omap { m := newOmap(); m.set(k, v); return m }

type tparam struct {
	Name, Type, Default string
	HasDefault          bool
	AllowedValues       []string
	AllowedPattern      string
	NoEcho              bool
	Constraint          string   // ConstraintDescription: replaces the message of a failed check
	MinLen, MaxLen      *int     // MinLength / MaxLength
	MinVal, MaxVal      *float64 // MinValue / MaxValue
}

type tresource struct {
	LogicalID string
	Type      string
	Def       *omap // the whole resource definition
	Props     *omap
}

type toutput struct {
	Key, Description string
	Value            any
}

type template struct {
	Description string
	Params      []tparam
	Conditions  *omap // by name: a condition function (Fn::Equals, Fn::Not, ...)
	Resources   []tresource
	Outputs     []toutput
}

func tmplErr(format string, args ...any) *apiError {
	return validationErr("Template format error: "+format, args...)
}

var topLevelKeys = []string{"AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Mappings", "Conditions", "Transform", "Resources", "Outputs", "Rules"}

// parseTemplate parses a JSON or YAML template and checks what CloudFormation
// checks before it creates anything.
func parseTemplate(body string) (*template, *apiError) {
	var root any
	var err error
	if strings.HasPrefix(strings.TrimSpace(body), "{") {
		root, err = decodeJSON(json.NewDecoder(strings.NewReader(body)))
	} else {
		var n yaml.Node
		if err = yaml.Unmarshal([]byte(body), &n); err == nil {
			root = fromYAML(&n)
		}
	}
	if err != nil {
		return nil, tmplErr("%s", err)
	}
	top, ok := root.(*omap)
	if !ok {
		return nil, tmplErr("template must be an object")
	}
	for _, k := range top.keys {
		if !slices.Contains(topLevelKeys, k) {
			return nil, tmplErr("Invalid template property or properties [%s]", k)
		}
	}
	t := &template{}
	if d, ok := top.get("Description"); ok {
		t.Description, _ = d.(string)
	}
	if ps, ok := top.get("Parameters"); ok {
		pm, ok := ps.(*omap)
		if !ok {
			return nil, tmplErr("Parameters must be an object")
		}
		for _, name := range pm.keys {
			def, ok := pm.vals[name].(*omap)
			if !ok {
				return nil, tmplErr("Invalid parameter %s", name)
			}
			p := tparam{Name: name}
			p.Type = str(def, "Type")
			if p.Type == "" {
				return nil, tmplErr("[/Parameters/%s] 'null' values are not allowed in templates", name)
			}
			if !knownParamType(p.Type) {
				return nil, tmplErr("Unrecognized parameter type: %s", p.Type)
			}
			if d, ok := def.get("Default"); ok {
				p.Default, p.HasDefault = scalarString(d), true
			}
			if av, ok := def.get("AllowedValues"); ok {
				list, _ := av.([]any)
				for _, v := range list {
					p.AllowedValues = append(p.AllowedValues, scalarString(v))
				}
			}
			p.AllowedPattern = str(def, "AllowedPattern")
			p.Constraint = str(def, "ConstraintDescription")
			for k, dst := range map[string]**int{"MinLength": &p.MinLen, "MaxLength": &p.MaxLen} {
				if x, ok := def.get(k); ok {
					n, err := strconv.Atoi(scalarString(x))
					if err != nil {
						return nil, tmplErr("Parameter %s: %s must be an integer", name, k)
					}
					*dst = &n
				}
			}
			for k, dst := range map[string]**float64{"MinValue": &p.MinVal, "MaxValue": &p.MaxVal} {
				if x, ok := def.get(k); ok {
					n, err := strconv.ParseFloat(scalarString(x), 64)
					if err != nil {
						return nil, tmplErr("Parameter %s: %s must be a number", name, k)
					}
					*dst = &n
				}
			}
			p.NoEcho = strings.EqualFold(str(def, "NoEcho"), "true")
			t.Params = append(t.Params, p)
		}
	}
	if cs, ok := top.get("Conditions"); ok {
		cm, ok := cs.(*omap)
		if !ok {
			return nil, tmplErr("Conditions must be an object")
		}
		t.Conditions = cm
	}
	rs, _ := top.get("Resources")
	rm, ok := rs.(*omap)
	if !ok || len(rm.keys) == 0 {
		return nil, tmplErr("At least one Resources member must be defined.")
	}
	for _, id := range rm.keys {
		def, ok := rm.vals[id].(*omap)
		typ := str(def, "Type")
		if !ok || typ == "" {
			return nil, tmplErr("[/Resources/%s] Every Resources object must contain a Type member.", id)
		}
		if strings.Count(typ, "::") != 2 && !strings.HasPrefix(typ, "Custom::") {
			return nil, tmplErr("Unrecognized resource types: [%s]", typ)
		}
		props, _ := def.get("Properties")
		pm, _ := props.(*omap)
		t.Resources = append(t.Resources, tresource{LogicalID: id, Type: typ, Def: def, Props: pm})
	}
	if os, ok := top.get("Outputs"); ok {
		om, _ := os.(*omap)
		for _, k := range om.keysOrNil() {
			def, _ := om.vals[k].(*omap)
			v, ok := def.get("Value")
			if !ok {
				return nil, tmplErr("Every Outputs member must contain a Value object, the Outputs member %s does not", k)
			}
			t.Outputs = append(t.Outputs, toutput{Key: k, Description: str(def, "Description"), Value: v})
		}
	}
	if aerr := t.checkRefs(); aerr != nil {
		return nil, aerr
	}
	if aerr := t.checkConditions(); aerr != nil {
		return nil, aerr
	}
	return t, nil
}

func (m *omap) keysOrNil() []string {
	if m == nil {
		return nil
	}
	return m.keys
}

func knownParamType(t string) bool {
	switch t {
	case "String", "Number", "List<Number>", "CommaDelimitedList":
		return true
	}
	return strings.HasPrefix(t, "AWS::") || strings.HasPrefix(t, "List<AWS::")
}

func str(m *omap, k string) string {
	v, _ := m.get(k)
	s, _ := v.(string)
	return s
}

func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	default:
		return fmt.Sprint(x)
	}
}

var subVarRE = regexp.MustCompile(`\$\{([^!}][^}]*)\}`)

// refs walks v and reports every Ref name and every GetAtt target.
func refs(v any, ref func(string), getatt func(string)) {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			refs(e, ref, getatt)
		}
	case *omap:
		if len(x.keys) == 1 {
			switch x.keys[0] {
			case "Ref":
				if s, ok := x.vals["Ref"].(string); ok {
					ref(s)
				}
				return
			case "Fn::GetAtt":
				switch a := x.vals["Fn::GetAtt"].(type) {
				case []any:
					if len(a) > 0 {
						getatt(scalarString(a[0]))
					}
				case string:
					getatt(strings.SplitN(a, ".", 2)[0])
				}
				return
			case "Fn::Sub":
				s, local := "", map[string]bool{}
				switch a := x.vals["Fn::Sub"].(type) {
				case string:
					s = a
				case []any:
					if len(a) > 0 {
						s, _ = a[0].(string)
					}
					if len(a) > 1 {
						vm, _ := a[1].(*omap)
						for _, k := range vm.keysOrNil() {
							local[k] = true
						}
						refs(a[1], ref, getatt)
					}
				}
				for _, m := range subVarRE.FindAllStringSubmatch(s, -1) {
					name, attr, isAttr := strings.Cut(m[1], ".")
					_ = attr
					switch {
					case local[m[1]]:
					case isAttr && !strings.HasPrefix(m[1], "AWS::"):
						getatt(name)
					default:
						ref(m[1])
					}
				}
				return
			}
		}
		for _, k := range x.keys {
			refs(x.vals[k], ref, getatt)
		}
	}
}

func (t *template) resource(id string) (tresource, bool) {
	for _, r := range t.Resources {
		if r.LogicalID == id {
			return r, true
		}
	}
	return tresource{}, false
}

func (t *template) param(name string) (tparam, bool) {
	for _, p := range t.Params {
		if p.Name == name {
			return p, true
		}
	}
	return tparam{}, false
}

// checkRefs rejects references to names the template does not define.
func (t *template) checkRefs() *apiError {
	check := func(block string, v any) *apiError {
		var bad []string
		refs(v, func(n string) {
			_, isP := t.param(n)
			_, isR := t.resource(n)
			if !isP && !isR && !strings.HasPrefix(n, "AWS::") && !slices.Contains(bad, n) {
				bad = append(bad, n)
			}
		}, func(n string) {
			if _, ok := t.resource(n); !ok && !slices.Contains(bad, n) {
				bad = append(bad, n)
			}
		})
		if len(bad) > 0 {
			return tmplErr("Unresolved resource dependencies [%s] in the %s block of the template", strings.Join(bad, ", "), block)
		}
		return nil
	}
	for _, r := range t.Resources {
		if aerr := check("Resources", r.Def); aerr != nil {
			return aerr
		}
	}
	for _, o := range t.Outputs {
		if aerr := check("Outputs", o.Value); aerr != nil {
			return aerr
		}
	}
	return nil
}

// requiredCapability is the capability CreateStack/UpdateStack must be given.
func (t *template) requiredCapability() string {
	need := ""
	for _, r := range t.Resources {
		if !strings.HasPrefix(r.Type, "AWS::IAM::") {
			continue
		}
		need = "CAPABILITY_IAM"
		for _, k := range []string{"RoleName", "UserName", "GroupName", "ManagedPolicyName", "InstanceProfileName"} {
			if _, ok := r.Props.get(k); ok {
				return "CAPABILITY_NAMED_IAM"
			}
		}
	}
	return need
}

// resolveParams validates supplied parameter values against the template and
// returns the effective value of every template parameter.
func (t *template) resolveParams(supplied map[string]string) (map[string]string, *apiError) {
	var unknown, missing []string
	for _, k := range sortedKeys(supplied) {
		if _, ok := t.param(k); !ok {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		return nil, validationErr("Parameters: [%s] do not exist in the template", strings.Join(unknown, ", "))
	}
	out := map[string]string{}
	for _, p := range t.Params {
		v, ok := supplied[p.Name]
		if !ok {
			if !p.HasDefault {
				missing = append(missing, p.Name)
				continue
			}
			v = p.Default
		}
		if len(p.AllowedValues) > 0 && !slices.Contains(p.AllowedValues, v) {
			return nil, validationErr("Parameter '%s' must be one of AllowedValues", p.Name)
		}
		if aerr := p.check(v); aerr != nil {
			return nil, aerr
		}
		out[p.Name] = v
	}
	if len(missing) > 0 {
		return nil, validationErr("Parameters: [%s] must have values", strings.Join(missing, ", "))
	}
	return out, nil
}

// check applies a parameter's constraints to a value, with AWS's messages.
func (p tparam) check(v string) *apiError {
	fail := func(format string, args ...any) *apiError {
		if p.Constraint != "" {
			return validationErr("Parameter '%s' failed to satisfy constraint: %s", p.Name, p.Constraint)
		}
		return validationErr("Parameter '%s' "+format, append([]any{p.Name}, args...)...)
	}
	if p.AllowedPattern != "" {
		re, err := regexp.Compile("^(?:" + p.AllowedPattern + ")$")
		if err == nil && !re.MatchString(v) {
			return fail("must match pattern %s", p.AllowedPattern)
		}
	}
	if p.MinLen != nil && len(v) < *p.MinLen {
		return fail("must contain at least %d characters", *p.MinLen)
	}
	if p.MaxLen != nil && len(v) > *p.MaxLen {
		return fail("must contain at most %d characters", *p.MaxLen)
	}
	if p.Type == "Number" {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return validationErr("Parameter '%s' must be a number.", p.Name)
		}
		if p.MinVal != nil && n < *p.MinVal {
			return fail("must be a number not less than %v", *p.MinVal)
		}
		if p.MaxVal != nil && n > *p.MaxVal {
			return fail("must be a number not greater than %v", *p.MaxVal)
		}
	}
	return nil
}

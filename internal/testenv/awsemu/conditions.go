package awsemu

import (
	"slices"
	"strings"
)

// Conditions, Fn::If and AWS::NoValue, as CloudFormation evaluates them: a condition is
// computed from parameters only, Fn::If picks one of two values by a condition's name, and
// Ref AWS::NoValue removes the property (or list element) it stands for.

// noValue is what Ref AWS::NoValue resolves to.
type noValueT struct{}

var noValue any = noValueT{}

var conditionFuncs = []string{"Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition"}

// checkConditions rejects what CloudFormation rejects before it creates anything: a
// condition that is not a condition function, refers to a resource or to an unknown
// parameter or condition, and an Fn::If (or a resource's Condition) naming a condition
// the template does not define.
func (t *template) checkConditions() *apiError {
	known := func(n string) bool { _, ok := t.Conditions.get(n); return ok }
	var check func(name string, v any) *apiError
	check = func(name string, v any) *apiError {
		switch x := v.(type) {
		case []any:
			for _, el := range x {
				if aerr := check(name, el); aerr != nil {
					return aerr
				}
			}
		case *omap:
			if x == nil {
				return nil
			}
			if len(x.keys) == 1 {
				switch k := x.keys[0]; k {
				case "Ref":
					n := scalarString(x.vals[k])
					if _, ok := t.param(n); !ok && !strings.HasPrefix(n, "AWS::") {
						return tmplErr("Unresolved dependencies [%s]. Cannot reference resources in the Conditions block of the template", n)
					}
					return nil
				case "Condition":
					if n := scalarString(x.vals[k]); !known(n) {
						return tmplErr("Unresolved condition dependency %s in %s", n, name)
					}
					return nil
				}
			}
			for _, k := range x.keys {
				if aerr := check(name, x.vals[k]); aerr != nil {
					return aerr
				}
			}
		}
		return nil
	}
	for _, name := range t.Conditions.keysOrNil() {
		def, ok := t.Conditions.vals[name].(*omap)
		if !ok || len(def.keys) != 1 || !slices.Contains(conditionFuncs, def.keys[0]) {
			return tmplErr("Conditions can only be boolean operations on parameters and other conditions: %s", name)
		}
		if aerr := check(name, def); aerr != nil {
			return aerr
		}
	}
	var bad *apiError
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case []any:
			for _, el := range x {
				walk(el)
			}
		case *omap:
			if x == nil {
				return
			}
			if a, ok := x.vals["Fn::If"].([]any); ok && len(x.keys) == 1 {
				if len(a) != 3 {
					bad = tmplErr("Fn::If requires a list argument with three elements")
					return
				}
				if n := scalarString(a[0]); !known(n) && bad == nil {
					bad = tmplErr("Unresolved condition dependency %s in Fn::If", n)
				}
			}
			for _, k := range x.keys {
				walk(x.vals[k])
			}
		}
	}
	for _, r := range t.Resources {
		if c, ok := r.Def.get("Condition"); ok && !known(scalarString(c)) {
			return tmplErr("Unresolved condition dependency %s in the Condition of resource %s", scalarString(c), r.LogicalID)
		}
		walk(r.Props)
	}
	for _, o := range t.Outputs {
		walk(o.Value)
	}
	return bad
}

// condition evaluates the named condition under the stack version's parameters.
func (e *Emulator) condition(s *stack, v version, name string) bool {
	def, _ := v.tmpl.Conditions.get(name)
	return e.condValue(s, v, def, 0)
}

func (e *Emulator) condValue(s *stack, v version, x any, depth int) bool {
	m, ok := x.(*omap)
	if !ok || len(m.keys) != 1 || depth > 32 {
		return false
	}
	args, _ := m.vals[m.keys[0]].([]any)
	switch m.keys[0] {
	case "Fn::Equals":
		return len(args) == 2 && e.eval(s, v, args[0]) == e.eval(s, v, args[1])
	case "Fn::Not":
		return len(args) == 1 && !e.condValue(s, v, args[0], depth+1)
	case "Fn::And":
		for _, a := range args {
			if !e.condValue(s, v, a, depth+1) {
				return false
			}
		}
		return len(args) > 0
	case "Fn::Or":
		for _, a := range args {
			if e.condValue(s, v, a, depth+1) {
				return true
			}
		}
		return false
	case "Condition":
		def, _ := v.tmpl.Conditions.get(scalarString(m.vals["Condition"]))
		return e.condValue(s, v, def, depth+1)
	}
	return false
}

// conditionsUsed lists the conditions x refers to through Fn::If.
func conditionsUsed(x any) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch y := v.(type) {
		case []any:
			for _, el := range y {
				walk(el)
			}
		case *omap:
			if y == nil {
				return
			}
			if a, ok := y.vals["Fn::If"].([]any); ok && len(y.keys) == 1 && len(a) == 3 {
				out = append(out, scalarString(a[0]))
			}
			for _, k := range y.keys {
				walk(y.vals[k])
			}
		}
	}
	walk(x)
	return out
}

func isListParam(typ string) bool {
	return typ == "CommaDelimitedList" || typ == "List<Number>" || strings.HasPrefix(typ, "List<AWS::")
}

// resolve computes a property value the way CloudFormation hands it to a resource
// handler: objects and lists keep their shape, Fn::If picks a branch, AWS::NoValue drops
// the key or element, a Ref to a list parameter is a list, and the string functions
// (Ref, Fn::GetAtt, Fn::Sub, Fn::Join) give strings. Literals keep their YAML type.
func (e *Emulator) resolve(s *stack, v version, x any) any {
	switch y := x.(type) {
	case []any:
		out := make([]any, 0, len(y))
		for _, el := range y {
			if r := e.resolve(s, v, el); r != noValue {
				out = append(out, r)
			}
		}
		return out
	case *omap:
		if y == nil {
			return newOmap()
		}
		if len(y.keys) == 1 {
			k := y.keys[0]
			switch {
			case k == "Ref":
				n := scalarString(y.vals[k])
				if n == "AWS::NoValue" {
					return noValue
				}
				if p, ok := v.tmpl.param(n); ok && isListParam(p.Type) {
					var out []any
					for _, el := range strings.Split(v.params[n], ",") {
						out = append(out, strings.TrimSpace(el))
					}
					return out
				}
				return e.eval(s, v, y)
			case k == "Fn::If":
				a, _ := y.vals[k].([]any)
				if len(a) != 3 {
					return noValue
				}
				if e.condition(s, v, scalarString(a[0])) {
					return e.resolve(s, v, a[1])
				}
				return e.resolve(s, v, a[2])
			case strings.HasPrefix(k, "Fn::"):
				return e.eval(s, v, y)
			}
		}
		out := newOmap()
		for _, k := range y.keys {
			if r := e.resolve(s, v, y.vals[k]); r != noValue {
				out.set(k, r)
			}
		}
		return out
	}
	return x
}

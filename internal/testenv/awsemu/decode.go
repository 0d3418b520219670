package awsemu

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// fromYAML converts a yaml.v3 node tree, expanding the short-form intrinsic
// tags (!Ref, !GetAtt, !Sub, ...) into their long JSON form.
func fromYAML(n *yaml.Node) any {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return fromYAML(n.Content[0])
	case yaml.AliasNode:
		return fromYAML(n.Alias)
	}
	var v any
	switch n.Kind {
	case yaml.MappingNode:
		m := newOmap()
		for i := 0; i+1 < len(n.Content); i += 2 {
			m.set(n.Content[i].Value, fromYAML(n.Content[i+1]))
		}
		v = m
	case yaml.SequenceNode:
		l := []any{}
		for _, c := range n.Content {
			l = append(l, fromYAML(c))
		}
		v = l
	default:
		if n.Tag == "!!null" {
			return nil
		}
		v = n.Value
	}
	if !strings.HasPrefix(n.Tag, "!") || strings.HasPrefix(n.Tag, "!!") {
		return v
	}
	switch name := n.Tag[1:]; name {
	case "Ref", "Condition":
		return single(name, v)
	case "GetAtt":
		if s, ok := v.(string); ok {
			res, attr, _ := strings.Cut(s, ".")
			return single("Fn::GetAtt", []any{res, attr})
		}
		return single("Fn::GetAtt", v)
	default:
		return single("Fn::"+name, v)
	}
}

// decodeJSON decodes one JSON value keeping object key order.
func decodeJSON(d *json.Decoder) (any, error) {
	tok, err := d.Token()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	switch x := tok.(type) {
	case json.Delim:
		switch x {
		case '{':
			m := newOmap()
			for d.More() {
				kt, err := d.Token()
				if err != nil {
					return nil, err
				}
				v, err := decodeJSON(d)
				if err != nil {
					return nil, err
				}
				m.set(kt.(string), v)
			}
			_, err := d.Token()
			return m, err
		case '[':
			l := []any{}
			for d.More() {
				v, err := decodeJSON(d)
				if err != nil {
					return nil, err
				}
				l = append(l, v)
			}
			_, err := d.Token()
			return l, err
		}
		return nil, fmt.Errorf("unexpected %v", x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	default:
		return x, nil // string or nil
	}
}

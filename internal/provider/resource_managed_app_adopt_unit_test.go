package provider

import "testing"

func TestSameValues(t *testing.T) {
	for _, tc := range []struct {
		configured, recorded string
		want                 bool
	}{
		{"message: hi\nreplicaCount: 2\n", `{"replicaCount":2,"message":"hi"}`, true},
		{"a:\n  b: [1, 2]\n", `{"a":{"b":[1,2]}}`, true},
		{"", `null`, true},
		{"", ``, true},
		{"{}\n", `{}`, true},
		{"", `{"message":"hi"}`, false},
		{"message: hi\n", `{"message":"ho"}`, false},
		{"replicaCount: 2\n", `{"replicaCount":"2"}`, false},
		{"a: [1\n", `{}`, false},
	} {
		if got := sameValues(tc.configured, []byte(tc.recorded)); got != tc.want {
			t.Errorf("%q vs %s: %v, want %v", tc.configured, tc.recorded, got, tc.want)
		}
	}
}

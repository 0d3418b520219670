package kube

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/yaml"
)

// The ConfigMap through which EKS maps IAM roles to Kubernetes identities.
const (
	AWSAuthNamespace = "kube-system"
	AWSAuthName      = "aws-auth"
)

// RoleMapping is one entry of aws-auth's mapRoles.
type RoleMapping struct {
	RoleARN  string   `json:"rolearn"`
	Username string   `json:"username"`
	Groups   []string `json:"groups,omitempty"`
}

// NodeRoleMapping is what worker nodes need to join.
func NodeRoleMapping(roleARN string) RoleMapping {
	return RoleMapping{
		RoleARN:  roleARN,
		Username: "system:node:{{EC2PrivateDNSName}}",
		Groups:   []string{"system:bootstrappers", "system:nodes"},
	}
}

// EnsureRoleMapping adds m to aws-auth (creating the ConfigMap if missing), replacing an
// entry for the same role and keeping everyone else's. Conflicts with concurrent writers
// are retried on the fresh object.
func (c *Client) EnsureRoleMapping(ctx context.Context, m RoleMapping, owner string) error {
	op := "update " + AWSAuthNamespace + "/" + AWSAuthName
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cm, err := c.cs.CoreV1().ConfigMaps(AWSAuthNamespace).Get(ctx, AWSAuthName, metav1.GetOptions{})
		if IsNotFound(err) {
			roles, err := marshalRoles([]RoleMapping{m})
			if err != nil {
				return err
			}
			cm = &corev1.ConfigMap{ObjectMeta: ownedMeta(AWSAuthName, AWSAuthNamespace, owner, nil), Data: map[string]string{"mapRoles": roles}}
			_, err = c.cs.CoreV1().ConfigMaps(AWSAuthNamespace).Create(ctx, cm, metav1.CreateOptions{})
			return err
		}
		if err != nil {
			return err
		}
		roles, err := parseRoles(cm.Data["mapRoles"])
		if err != nil {
			return err
		}
		merged, changed := upsertRole(roles, m)
		if !changed {
			return nil
		}
		text, err := marshalRoles(merged)
		if err != nil {
			return err
		}
		cm = cm.DeepCopy()
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cm.Data["mapRoles"] = text
		_, err = c.cs.CoreV1().ConfigMaps(AWSAuthNamespace).Update(ctx, cm, metav1.UpdateOptions{})
		return err
	})
	return wrap(op, err)
}

// RemoveRoleMapping drops the entry for roleARN; a missing ConfigMap or entry is fine.
func (c *Client) RemoveRoleMapping(ctx context.Context, roleARN string) error {
	op := "update " + AWSAuthNamespace + "/" + AWSAuthName
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cm, err := c.cs.CoreV1().ConfigMaps(AWSAuthNamespace).Get(ctx, AWSAuthName, metav1.GetOptions{})
		if IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		roles, err := parseRoles(cm.Data["mapRoles"])
		if err != nil {
			return err
		}
		kept := roles[:0:0]
		for _, r := range roles {
			if r.RoleARN != roleARN {
				kept = append(kept, r)
			}
		}
		if len(kept) == len(roles) {
			return nil
		}
		text, err := marshalRoles(kept)
		if err != nil {
			return err
		}
		cm = cm.DeepCopy()
		cm.Data["mapRoles"] = text
		_, err = c.cs.CoreV1().ConfigMaps(AWSAuthNamespace).Update(ctx, cm, metav1.UpdateOptions{})
		return err
	})
	return wrap(op, err)
}

// FindRoleMappings returns aws-auth's mapRoles; nil when the ConfigMap does not exist.
func (c *Client) FindRoleMappings(ctx context.Context) ([]RoleMapping, error) {
	cm, err := c.cs.CoreV1().ConfigMaps(AWSAuthNamespace).Get(ctx, AWSAuthName, metav1.GetOptions{})
	if IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap("read "+AWSAuthNamespace+"/"+AWSAuthName, err)
	}
	return parseRoles(cm.Data["mapRoles"])
}

func parseRoles(text string) ([]RoleMapping, error) {
	var roles []RoleMapping
	if text == "" {
		return nil, nil
	}
	if err := yaml.Unmarshal([]byte(text), &roles); err != nil {
		// The entries are someone else's: refuse to rewrite what we cannot read.
		return nil, &LocalError{Msg: "kube-system/aws-auth mapRoles is not valid YAML; fix it by hand before clusterkit can change it"}
	}
	return roles, nil
}

func marshalRoles(roles []RoleMapping) (string, error) {
	if len(roles) == 0 {
		return "[]\n", nil
	}
	b, err := yaml.Marshal(roles)
	return string(b), err
}

func upsertRole(roles []RoleMapping, m RoleMapping) ([]RoleMapping, bool) {
	out := make([]RoleMapping, 0, len(roles)+1)
	found, changed := false, false
	for _, r := range roles {
		if r.RoleARN == m.RoleARN {
			if !found && !equalMapping(r, m) {
				changed = true
			}
			if !found {
				out = append(out, m)
			} else {
				changed = true // a duplicate entry for our role: keep one
			}
			found = true
			continue
		}
		out = append(out, r)
	}
	if !found {
		out = append(out, m)
		changed = true
	}
	return out, changed
}

func equalMapping(a, b RoleMapping) bool {
	if a.RoleARN != b.RoleARN || a.Username != b.Username || len(a.Groups) != len(b.Groups) {
		return false
	}
	for i := range a.Groups {
		if a.Groups[i] != b.Groups[i] {
			return false
		}
	}
	return true
}

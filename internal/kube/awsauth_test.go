package kube

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestEnsureRoleMapping_CreatesConfigMap(t *testing.T) {
	cs := fake.NewClientset()
	c := NewClientForInterface(cs)
	ctx := context.Background()
	node := NodeRoleMapping("arn:aws:iam::111122223333:role/demo-NodeInstanceRole-1")
	if err := c.EnsureRoleMapping(ctx, node, "eks_cluster/demo"); err != nil {
		t.Fatal(err)
	}
	cm, err := cs.CoreV1().ConfigMaps("kube-system").Get(ctx, "aws-auth", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := "- groups:\n  - system:bootstrappers\n  - system:nodes\n  rolearn: arn:aws:iam::111122223333:role/demo-NodeInstanceRole-1\n  username: system:node:{{EC2PrivateDNSName}}\n"
	if cm.Data["mapRoles"] != want {
		t.Fatalf("mapRoles:\n%s\nwant:\n%s", cm.Data["mapRoles"], want)
	}
	if !Owned(cm, "eks_cluster/demo") {
		t.Error("a ConfigMap clusterkit created is not marked as its own")
	}
}

func TestEnsureRoleMapping_KeepsOthersEntries(t *testing.T) {
	existing := "- rolearn: arn:aws:iam::111122223333:role/ops\n  username: ops\n  groups: [system:masters]\n"
	cs := fake.NewClientset(&corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "aws-auth", Namespace: "kube-system"},
		Data:       map[string]string{"mapRoles": existing, "mapUsers": "- userarn: arn:aws:iam::1:user/x\n  username: x\n"},
	})
	c := NewClientForInterface(cs)
	ctx := context.Background()
	node := NodeRoleMapping("arn:aws:iam::111122223333:role/node")
	for range 2 { // the second call changes nothing
		if err := c.EnsureRoleMapping(ctx, node, "eks_cluster/demo"); err != nil {
			t.Fatal(err)
		}
	}
	roles, err := c.FindRoleMappings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(roles) != 2 || roles[0].Username != "ops" || roles[1].RoleARN != node.RoleARN {
		t.Fatalf("roles after ensure: %+v", roles)
	}
	cm, _ := cs.CoreV1().ConfigMaps("kube-system").Get(ctx, "aws-auth", metav1.GetOptions{})
	if !strings.Contains(cm.Data["mapUsers"], "userarn") {
		t.Error("mapUsers was lost")
	}
	if err := c.RemoveRoleMapping(ctx, node.RoleARN); err != nil {
		t.Fatal(err)
	}
	roles, _ = c.FindRoleMappings(ctx)
	if len(roles) != 1 || roles[0].Username != "ops" {
		t.Fatalf("roles after remove: %+v", roles)
	}
}

func TestEnsureRoleMapping_RefusesUnreadableMapRoles(t *testing.T) {
	cs := fake.NewClientset(&corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "aws-auth", Namespace: "kube-system"},
		Data:       map[string]string{"mapRoles": "- rolearn: [unclosed"},
	})
	err := NewClientForInterface(cs).EnsureRoleMapping(context.Background(), NodeRoleMapping("arn:aws:iam::1:role/n"), "o")
	if err == nil || !strings.Contains(err.Error(), "not valid YAML") {
		t.Fatalf("err = %v", err)
	}
}

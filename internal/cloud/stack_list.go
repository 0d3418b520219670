package cloud

import (
	"context"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

// FindStacksTagged returns the stacks of the session's account and region that carry
// every tag of want (key and value), sorted by name; deleted stacks are left out.
// CloudFormation cannot filter by tag, so every stack is described, page by page.
func (s *Session) FindStacksTagged(ctx context.Context, want map[string]string) ([]*Stack, error) {
	var out []*Stack
	pages := cloudformation.NewDescribeStacksPaginator(s.CloudFormation, &cloudformation.DescribeStacksInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, Sanitize(err)
		}
		for _, st := range page.Stacks {
			if st.StackStatus == cftypes.StackStatusDeleteComplete || !hasTags(st.Tags, want) {
				continue
			}
			out = append(out, stackFromAPI(st))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func hasTags(tags []cftypes.Tag, want map[string]string) bool {
	n := 0
	for _, t := range tags {
		if v, ok := want[aws.ToString(t.Key)]; ok && v == aws.ToString(t.Value) {
			n++
		}
	}
	return n == len(want)
}

func stackFromAPI(st cftypes.Stack) *Stack {
	res := &Stack{
		ID:           aws.ToString(st.StackId),
		Name:         aws.ToString(st.StackName),
		Status:       string(st.StackStatus),
		StatusReason: aws.ToString(st.StackStatusReason),
		Parameters:   map[string]string{},
		Outputs:      map[string]string{},
		Tags:         map[string]string{},
	}
	for _, p := range st.Parameters {
		res.Parameters[aws.ToString(p.ParameterKey)] = aws.ToString(p.ParameterValue)
	}
	for _, o := range st.Outputs {
		res.Outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	for _, t := range st.Tags {
		res.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return res
}

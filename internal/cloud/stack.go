package cloud

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"
)

// StackSpec is what CreateStack and UpdateStack send.
type StackSpec struct {
	Name         string
	TemplateBody string
	Parameters   map[string]string
	Tags         map[string]string
	// Token makes retries idempotent: the same token never creates a second stack.
	Token string
}

// Stack is the part of a stack the provider uses.
type Stack struct {
	ID           string
	Name         string
	Status       string
	StatusReason string
	Parameters   map[string]string
	Outputs      map[string]string
	Tags         map[string]string
}

// StackEvent is one line of a stack's history.
type StackEvent struct {
	ID           string
	Time         time.Time
	LogicalID    string
	ResourceType string
	Status       string
	Reason       string
}

// RequestToken derives a ClientRequestToken (max 128 chars of [a-zA-Z0-9-]) from parts
// that identify one intended operation.
func RequestToken(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return "clusterkit-" + hex.EncodeToString(h[:16])
}

// CreateStack starts the stack and returns its ID as soon as CloudFormation accepted it.
func (s *Session) CreateStack(ctx context.Context, spec StackSpec) (string, error) {
	out, err := s.CloudFormation.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName:          aws.String(spec.Name),
		TemplateBody:       aws.String(spec.TemplateBody),
		Parameters:         parameters(spec.Parameters),
		Tags:               tags(spec.Tags),
		Capabilities:       []cftypes.Capability{cftypes.CapabilityCapabilityIam},
		ClientRequestToken: optional(spec.Token),
		OnFailure:          cftypes.OnFailureRollback,
	})
	if err != nil {
		return "", Sanitize(err)
	}
	return aws.ToString(out.StackId), nil
}

// UpdateStack changes parameters in place; changed reports false when CloudFormation had
// nothing to do.
func (s *Session) UpdateStack(ctx context.Context, id string, spec StackSpec) (changed bool, err error) {
	_, err = s.CloudFormation.UpdateStack(ctx, &cloudformation.UpdateStackInput{
		StackName:          aws.String(id),
		TemplateBody:       aws.String(spec.TemplateBody),
		Parameters:         parameters(spec.Parameters),
		Tags:               tags(spec.Tags),
		Capabilities:       []cftypes.Capability{cftypes.CapabilityCapabilityIam},
		ClientRequestToken: optional(spec.Token),
	})
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorCode() == "ValidationError" && strings.Contains(api.ErrorMessage(), "No updates are to be performed") {
		return false, nil
	}
	if err != nil {
		return false, Sanitize(err)
	}
	return true, nil
}

// DeleteStack asks for deletion (idempotent in CloudFormation).
func (s *Session) DeleteStack(ctx context.Context, id, token string) error {
	_, err := s.CloudFormation.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String(id), ClientRequestToken: optional(token)})
	return Sanitize(err)
}

// FindStack returns the stack by name or ID; *NotFoundError when it does not exist or, by
// ID, when it was deleted.
func (s *Session) FindStack(ctx context.Context, nameOrID string) (*Stack, error) {
	out, err := s.CloudFormation.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(nameOrID)})
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorCode() == "ValidationError" && strings.Contains(api.ErrorMessage(), "does not exist") {
		return nil, &NotFoundError{Kind: "CloudFormation stack", Name: nameOrID}
	}
	if err != nil {
		return nil, Sanitize(err)
	}
	if len(out.Stacks) == 0 {
		return nil, &NotFoundError{Kind: "CloudFormation stack", Name: nameOrID}
	}
	st := out.Stacks[0]
	if st.StackStatus == cftypes.StackStatusDeleteComplete {
		return nil, &NotFoundError{Kind: "CloudFormation stack", Name: nameOrID}
	}
	return stackFromAPI(st), nil
}

// StackEvents returns the events newer than afterID, oldest first. With afterID empty it
// returns the whole history. Paging stops at afterID, so a long wait fetches only news.
func (s *Session) StackEvents(ctx context.Context, id, afterID string) ([]StackEvent, error) {
	var events []StackEvent
	p := cloudformation.NewDescribeStackEventsPaginator(s.CloudFormation, &cloudformation.DescribeStackEventsInput{StackName: aws.String(id)})
pages:
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		var api smithy.APIError
		if errors.As(err, &api) && api.ErrorCode() == "ValidationError" && strings.Contains(api.ErrorMessage(), "does not exist") {
			return nil, &NotFoundError{Kind: "CloudFormation stack", Name: id}
		}
		if err != nil {
			return nil, Sanitize(err)
		}
		for _, e := range page.StackEvents { // newest first
			if aws.ToString(e.EventId) == afterID && afterID != "" {
				break pages
			}
			events = append(events, StackEvent{
				ID:           aws.ToString(e.EventId),
				Time:         aws.ToTime(e.Timestamp),
				LogicalID:    aws.ToString(e.LogicalResourceId),
				ResourceType: aws.ToString(e.ResourceType),
				Status:       string(e.ResourceStatus),
				Reason:       aws.ToString(e.ResourceStatusReason),
			})
		}
	}
	for i, j := 0, len(events)-1; i < j; i, j = i+1, j-1 {
		events[i], events[j] = events[j], events[i]
	}
	return events, nil
}

// StackTemplate returns the template the stack is made of, after transforms (the
// Processed stage), as CloudFormation stores it: JSON or YAML.
func (s *Session) StackTemplate(ctx context.Context, id string) (string, error) {
	out, err := s.CloudFormation.GetTemplate(ctx, &cloudformation.GetTemplateInput{StackName: aws.String(id), TemplateStage: cftypes.TemplateStageProcessed})
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorCode() == "ValidationError" && strings.Contains(api.ErrorMessage(), "does not exist") {
		return "", &NotFoundError{Kind: "CloudFormation stack", Name: id}
	}
	if err != nil {
		return "", Sanitize(err)
	}
	return aws.ToString(out.TemplateBody), nil
}

func parameters(m map[string]string) []cftypes.Parameter {
	keys := sortedKeys(m)
	out := make([]cftypes.Parameter, 0, len(keys))
	for _, k := range keys {
		out = append(out, cftypes.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(m[k])})
	}
	return out
}

func tags(m map[string]string) []cftypes.Tag {
	keys := sortedKeys(m)
	out := make([]cftypes.Tag, 0, len(keys))
	for _, k := range keys {
		out = append(out, cftypes.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

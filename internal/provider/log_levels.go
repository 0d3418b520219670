package provider

import "strings"

// sdkLogLevelVars are the levels of the plugin SDK's own loggers: its root, the protocol
// layer and the framework.
var sdkLogLevelVars = []string{"TF_LOG_SDK", "TF_LOG_SDK_PROTO", "TF_LOG_SDK_FRAMEWORK"}

// SDKLogLevelsFromCLI sets each SDK log level the user left unset to the level the CLI
// keeps of this provider's output: TF_LOG_PROVIDER, else TF_LOG, and none when neither is
// set (OpenTofu and Terraform read them alike). Unset, the SDK logs at TRACE whatever the
// CLI keeps: the framework then writes a JSON line for nearly every attribute of every
// resource it touches, which the CLI parses only to drop it (a fifth of the provider's CPU
// in a refresh of hundreds of apps). TRACE, JSON and values the CLI does not know (it
// reads them as TRACE) change nothing. main calls it before serving.
func SDKLogLevelsFromCLI(getenv func(string) string, setenv func(key, value string) error) error {
	level := strings.ToUpper(strings.TrimSpace(getenv("TF_LOG_PROVIDER")))
	if level == "" {
		level = strings.ToUpper(strings.TrimSpace(getenv("TF_LOG")))
	}
	switch level {
	case "":
		level = "OFF"
	case "DEBUG", "INFO", "WARN", "ERROR", "OFF":
	default:
		return nil
	}
	for _, key := range sdkLogLevelVars {
		if getenv(key) != "" {
			continue
		}
		if err := setenv(key, level); err != nil {
			return err
		}
	}
	return nil
}

//go:build !benchprofile

package main

// startProfiles: profiling builds only (main_profile.go).
func startProfiles(func(string) string) (stop func()) { return func() {} }

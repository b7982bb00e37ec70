// Package blobtest holds test helpers for konserve backends: Faulty, a
// Backend wrapper that injects errors, crashes and lost replies at chosen
// operations, and RunConformance, the contract tests every Backend must pass.
//
// It is not a mock: Faulty forwards every operation to a real backend (a
// file directory, a mem bucket, a local S3 server) and only changes what the
// caller sees or whether the operation runs at all.
//
// Faulty is safe for concurrent use; its operation numbering is then the
// order in which operations reached it. RunConformance calls t.Run for each
// contract and uses a fresh backend for each.
package blobtest

// Package testenv hands tests the URLs of the local storage emulators that
// scripts/test.sh starts (versitygw for S3, fake-gcs-server for GCS, Azurite
// for Azure Blob Storage).
//
// It is not a test framework and starts no servers itself: scripts/test.sh
// owns the server processes and exports their URLs in ACCRETE_TEST_S3_URL,
// ACCRETE_TEST_GCS_URL and ACCRETE_TEST_AZURE_URL. When a variable is missing,
// a test that asks for it is skipped, unless ACCRETE_TEST_REQUIRE_SERVERS=1
// (set by scripts/test.sh and therefore by CI), in which case it fails: the
// emulator tests must never skip silently in CI.
//
// Every call returns the server URL with a fresh, unique key prefix, so tests
// (and parallel test binaries) never see each other's data.
//
// Concurrency: all functions are safe for concurrent use. They hold no state
// beyond a process-wide counter used to make prefixes unique.
package testenv

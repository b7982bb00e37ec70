package konserve

import (
	"context"
	"net/url"
	"sync"
)

// openFunc opens the Backend for one URL scheme. The URL's path (without its
// leading slash, for bucket schemes) is the key prefix the database lives
// under; the backend applies it to every key.
type openFunc func(ctx context.Context, u *url.URL) (Backend, error)

var (
	schemesMu sync.RWMutex
	schemes   = map[string]openFunc{}
)

// registerScheme makes Open accept URLs of scheme. Each backend file
// registers itself from an init function, so adding a backend touches no
// other file.
func registerScheme(scheme string, fn openFunc) {
	schemesMu.Lock()
	defer schemesMu.Unlock()
	schemes[scheme] = fn
}

func lookupScheme(scheme string) (openFunc, bool) {
	schemesMu.RLock()
	defer schemesMu.RUnlock()
	fn, ok := schemes[scheme]
	return fn, ok
}

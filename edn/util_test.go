package edn

import "reflect"

func reflectTypeString(v any) string { return reflect.TypeOf(v).String() }

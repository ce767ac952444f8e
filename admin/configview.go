package admin

import (
	"encoding"
	"fmt"
	"reflect"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/mysqlmux/mysqlmux/config"
)

// masked stands for every password in SHOW CONFIG.
const masked = "****"

func (h *handler) showConfig(string) (*mysql.Result, error) {
	if h.s.rt.Config == nil {
		return nil, mysql.NewError(mysql.ER_UNKNOWN_ERROR, "SHOW CONFIG is not available: no configuration view")
	}
	cfg := h.s.rt.Config()
	if cfg == nil {
		return nil, mysql.NewError(mysql.ER_UNKNOWN_ERROR, "SHOW CONFIG: no configuration")
	}
	var rows [][]any
	for _, kv := range configRows(cfg) {
		rows = append(rows, []any{kv[0], kv[1]})
	}
	return resultset([]string{"key", "value"}, rows)
}

// configRows flattens cfg into (key, value) pairs named as in the TOML file ("pool.max_connections",
// "backends[0].address"), walking the toml struct tags so a key added to config appears without
// an edit here. Fields named "password" are masked.
func configRows(cfg *config.Config) [][2]string {
	var out [][2]string
	flatten("", reflect.ValueOf(cfg).Elem(), &out)
	return out
}

func flatten(prefix string, v reflect.Value, out *[][2]string) {
	if v.Type().Implements(reflect.TypeFor[encoding.TextMarshaler]()) {
		b, err := v.Interface().(encoding.TextMarshaler).MarshalText()
		if err != nil {
			*out = append(*out, [2]string{prefix, "error: " + err.Error()})
			return
		}
		*out = append(*out, [2]string{prefix, string(b)})
		return
	}
	switch v.Kind() {
	case reflect.Pointer: // an optional table ([cluster]): shown when present
		if !v.IsNil() {
			flatten(prefix, v.Elem(), out)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if !f.IsExported() || name == "-" || name == "" {
				continue
			}
			key := name
			if prefix != "" {
				key = prefix + "." + name
			}
			if name == "password" {
				*out = append(*out, [2]string{key, masked})
				continue
			}
			flatten(key, v.Field(i), out)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			flatten(fmt.Sprintf("%s[%d]", prefix, i), v.Index(i), out)
		}
	default:
		*out = append(*out, [2]string{prefix, fmt.Sprint(v.Interface())})
	}
}

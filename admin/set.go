package admin

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/mysqlmux/mysqlmux/config"
)

// settings are the names SET accepts, as their TOML keys: the live pool and client limits.
func settings() []string {
	return []string{"max_connections", "acquire_timeout", "idle_timeout", "max_lifetime",
		"client_idle_timeout", "max_client_connections"}
}

// set changes one live setting ("NAME = VALUE", upper-cased by normalize): on a copy of the
// running configuration, validated and applied as RELOAD applies the file, so SHOW CONFIG and
// SHOW POOLS show it. A later RELOAD or SIGHUP reads the file again, which wins.
func (h *handler) set(arg string) (*mysql.Result, error) {
	name, value, ok := strings.Cut(arg, "=")
	if !ok {
		return nil, mysql.NewError(mysql.ER_PARSE_ERROR, "usage: SET name = value; names: "+strings.Join(settings(), ", "))
	}
	name = strings.ToLower(strings.TrimSpace(name))
	name = strings.TrimPrefix(strings.TrimPrefix(name, "pool."), "proxy.")
	value = strings.ToLower(strings.Trim(strings.TrimSpace(value), `'"`))
	if h.s.rt.Update == nil {
		return nil, mysql.NewError(mysql.ER_UNKNOWN_ERROR, "SET is not available: no way to change the configuration")
	}
	var bad *badSetting
	err := h.s.rt.Update(func(c *config.Config) error { return applySetting(c, name, value) })
	switch {
	case errors.As(err, &bad):
		return nil, mysql.NewError(bad.code, bad.msg)
	case err != nil:
		return nil, mysql.NewError(mysql.ER_WRONG_VALUE_FOR_VAR, "SET "+name+": "+strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	h.s.log.Info("admin SET", "name", name, "value", value)
	return nil, nil
}

// badSetting is a SET the console refuses before validation.
type badSetting struct {
	code uint16
	msg  string
}

func (e *badSetting) Error() string { return e.msg }

// applySetting sets name to value in c. max_connections is every backend's cap: the pool's, and
// each backend's own where the file sets one.
func applySetting(c *config.Config, name, value string) error {
	switch name {
	case "max_connections", "max_client_connections":
		n, err := strconv.Atoi(value)
		if err != nil {
			return &badSetting{mysql.ER_WRONG_TYPE_FOR_VAR, fmt.Sprintf("SET %s: %q is not a whole number", name, value)}
		}
		if name == "max_client_connections" {
			c.Proxy.MaxClientConnections = n
			return nil
		}
		c.Pool.MaxConnections = n
		for i := range c.Backends {
			if c.Backends[i].MaxConnections != 0 {
				c.Backends[i].MaxConnections = n
			}
		}
		return nil
	case "acquire_timeout", "idle_timeout", "max_lifetime", "client_idle_timeout":
		d, err := time.ParseDuration(value)
		if err != nil {
			return &badSetting{mysql.ER_WRONG_TYPE_FOR_VAR, fmt.Sprintf("SET %s: %q is not a duration such as '5s' or '1m30s'", name, value)}
		}
		*map[string]*config.Duration{
			"acquire_timeout": &c.Pool.AcquireTimeout, "idle_timeout": &c.Pool.IdleTimeout,
			"max_lifetime": &c.Pool.MaxLifetime, "client_idle_timeout": &c.Proxy.ClientIdleTimeout,
		}[name] = config.Duration{Duration: d}
		return nil
	}
	return &badSetting{mysql.ER_UNKNOWN_SYSTEM_VARIABLE,
		fmt.Sprintf("SET: unknown setting %q; settings: %s", name, strings.Join(settings(), ", "))}
}

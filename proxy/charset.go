package proxy

import "github.com/pingcap/tidb/pkg/parser/charset"

// collationNames maps a handshake collation id to its character set and collation names. Ids
// MariaDB does not know (255, MySQL 8's utf8mb4_0900_ai_ci) fall back to utf8mb4_general_ci, as a
// MariaDB server treats them.
func collationNames(id uint8) (cs, coll string) {
	c, err := charset.GetCollationByID(int(id))
	if err != nil || id == 255 {
		return "utf8mb4", "utf8mb4_general_ci"
	}
	return c.CharsetName, c.Name
}

package wire

import (
	"strconv"
	"strings"
)

// Capability is the set of CLIENT_* capability flags exchanged in the handshake.
type Capability uint32

// The capability flags the proxy reads or sets.
const (
	ClientLongPassword     Capability = 1 << 0
	ClientFoundRows        Capability = 1 << 1
	ClientLongFlag         Capability = 1 << 2
	ClientConnectWithDB    Capability = 1 << 3
	ClientNoSchema         Capability = 1 << 4
	ClientCompress         Capability = 1 << 5
	ClientODBC             Capability = 1 << 6
	ClientLocalFiles       Capability = 1 << 7
	ClientIgnoreSpace      Capability = 1 << 8
	ClientProtocol41       Capability = 1 << 9
	ClientInteractive      Capability = 1 << 10
	ClientSSL              Capability = 1 << 11
	ClientIgnoreSigpipe    Capability = 1 << 12
	ClientTransactions     Capability = 1 << 13
	ClientReserved         Capability = 1 << 14
	ClientSecureConnection Capability = 1 << 15
	ClientMultiStatements  Capability = 1 << 16
	ClientMultiResults     Capability = 1 << 17
	ClientPSMultiResults   Capability = 1 << 18
	ClientPluginAuth       Capability = 1 << 19
	ClientConnectAttrs     Capability = 1 << 20
	ClientPluginAuthLenenc Capability = 1 << 21
	ClientCanHandleExpired Capability = 1 << 22
	ClientSessionTrack     Capability = 1 << 23
	ClientDeprecateEOF     Capability = 1 << 24
	ClientOptionalMetadata Capability = 1 << 25
	ClientZstdCompression  Capability = 1 << 26
	ClientQueryAttributes  Capability = 1 << 27
	ClientMultiFactorAuth  Capability = 1 << 28
	ClientCapExtension     Capability = 1 << 29
	ClientSSLVerifyServer  Capability = 1 << 30
	ClientRememberOptions  Capability = 1 << 31
)

var capNames = [32]string{
	"LONG_PASSWORD", "FOUND_ROWS", "LONG_FLAG", "CONNECT_WITH_DB", "NO_SCHEMA", "COMPRESS", "ODBC",
	"LOCAL_FILES", "IGNORE_SPACE", "PROTOCOL_41", "INTERACTIVE", "SSL", "IGNORE_SIGPIPE",
	"TRANSACTIONS", "RESERVED", "SECURE_CONNECTION", "MULTI_STATEMENTS", "MULTI_RESULTS",
	"PS_MULTI_RESULTS", "PLUGIN_AUTH", "CONNECT_ATTRS", "PLUGIN_AUTH_LENENC_CLIENT_DATA",
	"CAN_HANDLE_EXPIRED_PASSWORDS", "SESSION_TRACK", "DEPRECATE_EOF", "OPTIONAL_RESULTSET_METADATA",
	"ZSTD_COMPRESSION", "QUERY_ATTRIBUTES", "MULTI_FACTOR_AUTH", "CAPABILITY_EXTENSION",
	"SSL_VERIFY_SERVER_CERT", "REMEMBER_OPTIONS",
}

// String lists the flags by name, e.g. "FOUND_ROWS|PROTOCOL_41".
func (c Capability) String() string { return bitNames(uint32(c), capNames[:]) }

// Status is the SERVER_STATUS_* flag set carried by OK and EOF packets.
type Status uint16

// The status flags the proxy reads.
const (
	StatusInTrans            Status = 0x0001
	StatusAutocommit         Status = 0x0002
	StatusMoreResults        Status = 0x0008
	StatusCursorExists       Status = 0x0040
	StatusLastRowSent        Status = 0x0080
	StatusNoBackslashEscapes Status = 0x0200
	StatusInTransReadonly    Status = 0x2000
	StatusSessionStateChange Status = 0x4000
	StatusAnsiQuotes         Status = 0x8000 // MariaDB: sql_mode has ANSI_QUOTES
)

var statusNames = [16]string{
	"IN_TRANS", "AUTOCOMMIT", "", "MORE_RESULTS_EXISTS", "NO_GOOD_INDEX_USED", "NO_INDEX_USED",
	"CURSOR_EXISTS", "LAST_ROW_SENT", "DB_DROPPED", "NO_BACKSLASH_ESCAPES", "METADATA_CHANGED",
	"QUERY_WAS_SLOW", "PS_OUT_PARAMS", "IN_TRANS_READONLY", "SESSION_STATE_CHANGED", "ANSI_QUOTES",
}

// String lists the flags by name.
func (s Status) String() string { return bitNames(uint32(s), statusNames[:]) }

func bitNames(v uint32, names []string) string {
	if v == 0 {
		return "0"
	}
	var b strings.Builder
	for i := range names {
		if v&(1<<i) == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('|')
		}
		if names[i] == "" {
			b.WriteString("0x" + strconv.FormatUint(uint64(1)<<i, 16))
		} else {
			b.WriteString(names[i])
		}
	}
	return b.String()
}

// Command is the first byte of a client command packet.
type Command byte

// The commands the proxy handles.
const (
	ComSleep            Command = 0x00
	ComQuit             Command = 0x01
	ComInitDB           Command = 0x02
	ComQuery            Command = 0x03
	ComFieldList        Command = 0x04
	ComCreateDB         Command = 0x05
	ComDropDB           Command = 0x06
	ComRefresh          Command = 0x07
	ComShutdown         Command = 0x08
	ComStatistics       Command = 0x09
	ComProcessInfo      Command = 0x0a
	ComConnect          Command = 0x0b
	ComProcessKill      Command = 0x0c
	ComDebug            Command = 0x0d
	ComPing             Command = 0x0e
	ComChangeUser       Command = 0x11
	ComStmtPrepare      Command = 0x16
	ComStmtExecute      Command = 0x17
	ComStmtSendLongData Command = 0x18
	ComStmtClose        Command = 0x19
	ComStmtReset        Command = 0x1a
	ComSetOption        Command = 0x1b
	ComStmtFetch        Command = 0x1c
	ComResetConnection  Command = 0x1f
)

var commandNames = map[Command]string{
	ComSleep: "SLEEP", ComQuit: "QUIT", ComInitDB: "INIT_DB", ComQuery: "QUERY", ComFieldList: "FIELD_LIST",
	ComCreateDB: "CREATE_DB", ComDropDB: "DROP_DB", ComRefresh: "REFRESH", ComShutdown: "SHUTDOWN",
	ComStatistics: "STATISTICS", ComProcessInfo: "PROCESS_INFO", ComConnect: "CONNECT",
	ComProcessKill: "PROCESS_KILL", ComDebug: "DEBUG", ComPing: "PING", ComChangeUser: "CHANGE_USER",
	ComStmtPrepare: "STMT_PREPARE", ComStmtExecute: "STMT_EXECUTE", ComStmtSendLongData: "STMT_SEND_LONG_DATA",
	ComStmtClose: "STMT_CLOSE", ComStmtReset: "STMT_RESET", ComSetOption: "SET_OPTION",
	ComStmtFetch: "STMT_FETCH", ComResetConnection: "RESET_CONNECTION",
}

// String names the command, e.g. "COM_QUERY".
func (c Command) String() string {
	if n, ok := commandNames[c]; ok {
		return "COM_" + n
	}
	return "COM_0x" + strconv.FormatUint(uint64(c), 16)
}

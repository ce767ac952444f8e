package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// Values of [[backends]] tls.
const (
	TLSDisabled       = "disabled"
	TLSRequired       = "required"
	TLSVerifyCA       = "verify_ca"
	TLSVerifyIdentity = "verify_identity"
)

var errCAWithoutVerify = errors.New(`tls_ca needs tls = "verify_ca" or "verify_identity"`)

// ClientTLS returns the TLS configuration for connections to this backend, nil when TLS is
// disabled. It reads TLSCA.
func (b BackendConfig) ClientTLS() (*tls.Config, error) {
	mode := b.TLS
	switch mode {
	case "", TLSDisabled:
		if b.TLSCA != "" {
			return nil, errCAWithoutVerify
		}
		return nil, nil
	case TLSRequired, TLSVerifyCA, TLSVerifyIdentity:
	default:
		return nil, fmt.Errorf("%q is not one of %s, %s, %s, %s", mode, TLSDisabled, TLSRequired, TLSVerifyCA, TLSVerifyIdentity)
	}
	if filepath.IsAbs(b.Address) {
		return nil, errors.New("TLS over a Unix socket is not supported (the socket is local already)")
	}
	if mode == TLSRequired {
		if b.TLSCA != "" {
			return nil, errCAWithoutVerify
		}
		return &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, nil
	}
	var roots *x509.CertPool // nil: the system's
	if b.TLSCA != "" {
		pem, err := os.ReadFile(b.TLSCA)
		if err != nil {
			return nil, err
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls_ca %s holds no PEM certificate", b.TLSCA)
		}
	}
	if mode == TLSVerifyIdentity {
		host, _, err := net.SplitHostPort(b.Address)
		if err != nil {
			return nil, err
		}
		return &tls.Config{RootCAs: roots, ServerName: host, MinVersion: tls.VersionTLS12}, nil
	}
	// verify_ca: the chain is checked, the name is not.
	return &tls.Config{
		InsecureSkipVerify: true, // the default check includes the name: VerifyConnection does the rest
		MinVersion:         tls.VersionTLS12,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the server sent no certificate")
			}
			opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		},
	}, nil
}

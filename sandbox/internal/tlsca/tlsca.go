// Package tlsca is the sandbox's local certificate authority: one long-lived ECDSA CA, kept in a
// directory (beside the store file, or one the user names) or only in memory, that issues leaf
// certificates on demand for the platform hosts the sandbox answers for (api.weixin.qq.com,
// mp.weixin.qq.com, ...). A client that trusts the CA then talks to the sandbox on the platforms'
// own https:// URLs, through the forward proxy or a TLS listener.
//
// Keys come from crypto/rand, not from the sandbox's seeded source, on purpose: whoever trusts the
// CA lets it vouch for any name, so its key must be unguessable, and a key drawn from seed 1 (the
// default) would be the same on every machine — anyone could mint certificates the user's
// machine accepts. Nothing here ever enters the store, so the CA, its leaves and their random
// serial numbers are outside the hashed state: same seed, clock and requests still give the same
// bytes and state hashes.
//
// Validity is wall time, not the sandbox clock: TLS clients check a certificate against their own
// clock, so a sandbox clock moved a year ahead (to expire tokens) must not make every handshake
// fail. The CA is valid for twenty years from its creation; leaves for thirty days, and a cached
// leaf is issued again a day before it runs out.
package tlsca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Lifetimes of the certificates, in wall time.
const (
	CALifetime   = 20 * 365 * 24 * time.Hour
	LeafLifetime = 30 * 24 * time.Hour
	// leafRenewal is how long before its end a cached leaf is replaced.
	leafRenewal = 24 * time.Hour
	// backdate covers clients whose clock runs a little behind the sandbox host's.
	backdate = time.Hour
)

// File names inside the CA directory. The key file holds the private key and the certificate
// together, so that two processes creating the CA at once can never pair one's certificate with
// the other's key; the certificate file is the public part, the one users trust.
const (
	CertFile = "citysandbox-ca.pem"
	KeyFile  = "citysandbox-ca-key.pem"
)

// CA is a certificate authority and its cache of leaf certificates. It is safe for concurrent use.
type CA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     crypto.Signer
	dir     string
	now     func() time.Time

	mu     sync.Mutex
	leaves map[string]*tls.Certificate
}

// New creates a CA that lives in memory only.
func New() (*CA, error) {
	cert, certPEM, key, err := generate(time.Now())
	if err != nil {
		return nil, err
	}
	return newCA(cert, certPEM, key, ""), nil
}

func newCA(cert *x509.Certificate, certPEM []byte, key crypto.Signer, dir string) *CA {
	return &CA{cert: cert, certPEM: certPEM, key: key, dir: dir, now: time.Now, leaves: map[string]*tls.Certificate{}}
}

// Load reads the CA kept in dir, creating it (and dir) first if there is none. A CA created by
// another process at the same moment wins: both then use the same one.
func Load(dir string) (*CA, error) {
	if dir == "" {
		return nil, errors.New("tlsca: no directory")
	}
	// An absolute path, so that the one printed for users to trust works from anywhere.
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	keyPath := filepath.Join(dir, KeyFile)
	data, err := os.ReadFile(keyPath)
	if errors.Is(err, fs.ErrNotExist) {
		data, err = create(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("tlsca: %w", err)
	}
	cert, certPEM, key, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("tlsca: %s: %w", keyPath, err)
	}
	// The public file is written again when missing or stale (a user deleted it, or an older
	// run crashed between the two writes); its content follows from the key file.
	certPath := filepath.Join(dir, CertFile)
	if old, err := os.ReadFile(certPath); err != nil || string(old) != string(certPEM) {
		if err := writeFileAtomic(certPath, certPEM, 0o644); err != nil {
			return nil, fmt.Errorf("tlsca: %w", err)
		}
	}
	return newCA(cert, certPEM, key, dir), nil
}

// create makes a new CA in dir and returns the key file's content: its own, or that of a CA
// another process created first.
func create(dir string) ([]byte, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	_, certPEM, key, err := generate(time.Now())
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	data := append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), certPEM...)
	tmp, err := os.CreateTemp(dir, KeyFile+".*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	// Link, unlike rename, fails when the name exists: the first CA made is the one kept.
	keyPath := filepath.Join(dir, KeyFile)
	if err := os.Link(tmp.Name(), keyPath); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return os.ReadFile(keyPath)
		}
		return nil, err
	}
	return data, nil
}

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// generate makes a CA key and its self-signed certificate, valid from an hour before now.
func generate(now time.Time) (*x509.Certificate, []byte, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("tlsca: generate CA key: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, nil, nil, err
	}
	host, _ := os.Hostname()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			Organization:       []string{"citysandbox"},
			OrganizationalUnit: []string{"local development CA" + onHost(host)},
			CommonName:         "citysandbox local CA " + serial.Text(16)[:8],
		},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(CALifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		// SubjectKeyId is left for CreateCertificate to derive from the key, which it does for a
		// CA; leaves then carry it as their AuthorityKeyId.
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("tlsca: sign CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("tlsca: parse CA certificate: %w", err)
	}
	return cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), key, nil
}

func onHost(host string) string {
	if host == "" {
		return ""
	}
	return " on " + host
}

// parse reads a key file: a PKCS #8 private key and the CA certificate, as PEM blocks.
func parse(data []byte) (*x509.Certificate, []byte, crypto.Signer, error) {
	var cert *x509.Certificate
	var certPEM []byte
	var key crypto.Signer
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch block.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("parse key: %w", err)
			}
			signer, ok := k.(crypto.Signer)
			if !ok {
				return nil, nil, nil, fmt.Errorf("key of type %T cannot sign", k)
			}
			key = signer
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("parse certificate: %w", err)
			}
			cert, certPEM = c, pem.EncodeToMemory(block)
		}
	}
	if key == nil || cert == nil {
		return nil, nil, nil, errors.New("want a PRIVATE KEY and a CERTIFICATE block")
	}
	if !cert.IsCA {
		return nil, nil, nil, errors.New("the certificate is not a CA")
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, nil, nil, errors.New("the key does not belong to the certificate")
	}
	return cert, certPEM, key, nil
}

func serialNumber() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("tlsca: serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil // never zero
}

// Certificate returns the CA certificate.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// PEM returns the CA certificate in PEM form: what a client trusts.
func (ca *CA) PEM() []byte { return append([]byte(nil), ca.certPEM...) }

// Dir returns the directory the CA is kept in, or "" for one in memory.
func (ca *CA) Dir() string { return ca.dir }

// CertPath returns the path of the CA certificate's file, or "" for a CA in memory.
func (ca *CA) CertPath() string {
	if ca.dir == "" {
		return ""
	}
	return filepath.Join(ca.dir, CertFile)
}

// Leaf returns a certificate for host (a DNS name or an IP address), with the CA certificate as
// its chain: the cached one while it has more than a day to run, else a new one. The caller
// decides which hosts deserve one.
func (ca *CA) Leaf(host string) (*tls.Certificate, error) {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "" {
		return nil, errors.New("tlsca: no host name")
	}
	now := ca.now()
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if c, ok := ca.leaves[host]; ok && now.Before(c.Leaf.NotAfter.Add(-leafRenewal)) {
		return c, nil
	}
	c, err := ca.issue(host, now)
	if err != nil {
		return nil, err
	}
	ca.leaves[host] = c
	return c, nil
}

// issue signs a server certificate for host.
func (ca *CA) issue(host string, now time.Time) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("tlsca: generate key for %s: %w", host, err)
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"citysandbox"}, CommonName: host},
		NotBefore:    now.Add(-backdate),
		NotAfter:     now.Add(LeafLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("tlsca: sign certificate for %s: %w", host, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("tlsca: parse certificate for %s: %w", host, err)
	}
	return &tls.Certificate{Certificate: [][]byte{der, ca.cert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

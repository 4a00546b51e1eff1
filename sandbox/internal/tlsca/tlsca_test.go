package tlsca

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func memoryCA(t *testing.T) *CA {
	t.Helper()
	ca, err := New()
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestCACertificate(t *testing.T) {
	ca := memoryCA(t)
	c := ca.Certificate()
	if !c.IsCA || !c.BasicConstraintsValid || c.MaxPathLen != 0 || !c.MaxPathLenZero {
		t.Errorf("CA constraints: IsCA %v, BasicConstraintsValid %v, MaxPathLen %d (zero %v); want a CA that signs leaves only",
			c.IsCA, c.BasicConstraintsValid, c.MaxPathLen, c.MaxPathLenZero)
	}
	if c.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("CA KeyUsage = %v, want CertSign", c.KeyUsage)
	}
	if _, ok := c.PublicKey.(*ecdsa.PublicKey); !ok {
		t.Errorf("CA key is %T, want ECDSA", c.PublicKey)
	}
	if life := c.NotAfter.Sub(time.Now()); life < 19*365*24*time.Hour {
		t.Errorf("CA valid for %v more, want about twenty years", life)
	}
	if len(c.SubjectKeyId) == 0 {
		t.Error("CA has no SubjectKeyId")
	}
	block, _ := pem.Decode(ca.PEM())
	if block == nil || block.Type != "CERTIFICATE" || !bytes.Equal(block.Bytes, c.Raw) {
		t.Errorf("PEM() is not the CA certificate: %q", ca.PEM())
	}
	if ca.CertPath() != "" || ca.Dir() != "" {
		t.Errorf("a CA in memory has CertPath %q, Dir %q; want none", ca.CertPath(), ca.Dir())
	}
	again := memoryCA(t)
	if bytes.Equal(again.Certificate().Raw, c.Raw) || again.Certificate().SerialNumber.Cmp(c.SerialNumber) == 0 {
		t.Error("two CAs in memory came out the same: the keys must be fresh crypto randomness")
	}
}

func TestLeafVerifies(t *testing.T) {
	ca := memoryCA(t)
	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate())
	hosts := []string{"api.weixin.qq.com", "api2.weixin.qq.com", "sh.api.weixin.qq.com", "mp.weixin.qq.com", "gateway.example.test"}
	for _, host := range hosts {
		t.Run(host, func(t *testing.T) {
			cert, err := ca.Leaf(host)
			if err != nil {
				t.Fatal(err)
			}
			leaf := cert.Leaf
			if len(cert.Certificate) != 2 || !bytes.Equal(cert.Certificate[1], ca.Certificate().Raw) {
				t.Errorf("chain has %d certificates, want the leaf and the CA", len(cert.Certificate))
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
				t.Errorf("leaf does not verify for %s: %v", host, err)
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "www.qq.com"}); err == nil {
				t.Errorf("leaf for %s verifies for www.qq.com too", host)
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
				t.Error("leaf verifies for client authentication; want server authentication only")
			}
			if leaf.IsCA || leaf.KeyUsage != x509.KeyUsageDigitalSignature {
				t.Errorf("leaf IsCA %v, KeyUsage %v; want a non-CA with DigitalSignature only", leaf.IsCA, leaf.KeyUsage)
			}
			if !bytes.Equal(leaf.AuthorityKeyId, ca.Certificate().SubjectKeyId) {
				t.Error("leaf's AuthorityKeyId is not the CA's SubjectKeyId")
			}
			// Validity is wall time: a certificate valid now, for about a month.
			late := time.Now().Add(LeafLifetime + time.Hour)
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host, CurrentTime: late}); err == nil {
				t.Errorf("leaf still verifies at %v, past its %v lifetime", late, LeafLifetime)
			}
		})
	}
	other := memoryCA(t)
	pool := x509.NewCertPool()
	pool.AddCert(other.Certificate())
	cert, err := ca.Leaf("api.weixin.qq.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "api.weixin.qq.com"}); err == nil {
		t.Error("a leaf verifies against another CA")
	}
}

func TestLeafForIPAddress(t *testing.T) {
	ca := memoryCA(t)
	cert, err := ca.Leaf("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if len(cert.Leaf.IPAddresses) != 1 || !cert.Leaf.IPAddresses[0].Equal([]byte{127, 0, 0, 1}) || len(cert.Leaf.DNSNames) != 0 {
		t.Errorf("leaf for 127.0.0.1 has IPs %v and names %v, want the IP only", cert.Leaf.IPAddresses, cert.Leaf.DNSNames)
	}
	if _, err := ca.Leaf(""); err == nil {
		t.Error("Leaf(\"\") succeeded")
	}
}

func TestLeafCache(t *testing.T) {
	ca := memoryCA(t)
	first, err := ca.Leaf("api.weixin.qq.com")
	if err != nil {
		t.Fatal(err)
	}
	same, err := ca.Leaf("API.weixin.qq.com.")
	if err != nil {
		t.Fatal(err)
	}
	if same != first {
		t.Error("the same host (case and trailing dot aside) got a second certificate")
	}
	// A day before the leaf runs out, the next handshake gets a new one.
	ca.now = func() time.Time { return first.Leaf.NotAfter.Add(-leafRenewal + time.Minute) }
	renewed, err := ca.Leaf("api.weixin.qq.com")
	if err != nil {
		t.Fatal(err)
	}
	if renewed == first || !renewed.Leaf.NotAfter.After(first.Leaf.NotAfter) {
		t.Errorf("leaf near its end was not renewed: NotAfter %v, first %v", renewed.Leaf.NotAfter, first.Leaf.NotAfter)
	}
}

func TestLoadPersists(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	first, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if first.Dir() != dir || first.CertPath() != filepath.Join(dir, CertFile) {
		t.Errorf("Dir %q, CertPath %q; want %q and its %s", first.Dir(), first.CertPath(), dir, CertFile)
	}
	onDisk, err := os.ReadFile(first.CertPath())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, first.PEM()) {
		t.Error("the certificate file is not the CA's PEM")
	}
	info, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		t.Errorf("key file mode %v, want readable by its owner only", perm)
	}
	second, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(second.Certificate().Raw, first.Certificate().Raw) {
		t.Fatal("a second Load made a new CA instead of reading the kept one")
	}
	// A leaf issued by the reloaded CA verifies against the certificate users trusted before.
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(onDisk) {
		t.Fatal("the certificate file does not parse")
	}
	cert, err := second.Leaf("mp.weixin.qq.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "mp.weixin.qq.com"}); err != nil {
		t.Errorf("leaf of the reloaded CA: %v", err)
	}
	// A deleted public file is written again from the key file.
	if err := os.Remove(first.CertPath()); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err != nil {
		t.Fatal(err)
	}
	if again, err := os.ReadFile(first.CertPath()); err != nil || !bytes.Equal(again, onDisk) {
		t.Errorf("certificate file after deletion and Load: %v (same content: %v)", err, bytes.Equal(again, onDisk))
	}
}

func TestLoadConcurrently(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	cas := make([]*CA, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { cas[i], errs[i] = Load(dir) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Load %d: %v", i, errs[i])
		}
		if !bytes.Equal(cas[i].Certificate().Raw, cas[0].Certificate().Raw) {
			t.Fatalf("Load %d made another CA than Load 0: processes starting at once must share one", i)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only %s and %s", names, CertFile, KeyFile)
	}
}

func TestLoadRefusesBrokenKeyFile(t *testing.T) {
	a, b := memoryCA(t), memoryCA(t)
	keyOf := func(ca *CA) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(ca.key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	cases := map[string][]byte{
		"empty":             nil,
		"no certificate":    keyOf(a),
		"another CA's cert": append(keyOf(a), b.PEM()...),
		"not PEM":           []byte("hello"),
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, KeyFile), content, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(dir); err == nil {
				t.Error("Load accepted it")
			}
		})
	}
	if _, err := Load(""); err == nil {
		t.Error(`Load("") succeeded`)
	}
}

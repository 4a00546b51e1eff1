package push

import (
	"bytes"
	"crypto/aes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"slices"
	"strings"
	"testing"
)

// The functions below are an independent implementation of WeChat's scheme, written from the
// reference (wechat-component.md §10) rather than from this package's code: CBC is done by hand
// over the raw block cipher, the padding is checked byte by byte, and the signature sorts with
// slices.Sort. Tests check the package against them in both directions.

func refKey(t testing.TB, encodingAESKey string) []byte {
	t.Helper()
	k, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil || len(k) != 32 {
		t.Fatalf("reference key from %q: %v (%d bytes)", encodingAESKey, err, len(k))
	}
	return k
}

func refDecrypt(t testing.TB, encodingAESKey, encrypted string) (msg []byte, appid string) {
	t.Helper()
	key := refKey(t, encodingAESKey)
	ct, err := base64.StdEncoding.DecodeString(encrypted)
	if err != nil {
		t.Fatalf("reference: base64: %v", err)
	}
	if len(ct)%32 != 0 {
		t.Fatalf("reference: ciphertext length %d is not a multiple of 32 (PKCS#7 with K=32)", len(ct))
	}
	block, _ := aes.NewCipher(key)
	prev := key[:16]
	plain := make([]byte, 0, len(ct))
	for i := 0; i < len(ct); i += 16 {
		out := make([]byte, 16)
		block.Decrypt(out, ct[i:i+16])
		for j := range out {
			out[j] ^= prev[j]
		}
		plain = append(plain, out...)
		prev = ct[i : i+16]
	}
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > 32 {
		t.Fatalf("reference: pad %d", pad)
	}
	for _, b := range plain[len(plain)-pad:] {
		if int(b) != pad {
			t.Fatalf("reference: pad bytes %v are not all %d", plain[len(plain)-pad:], pad)
		}
	}
	plain = plain[:len(plain)-pad]
	n := int(plain[16])<<24 | int(plain[17])<<16 | int(plain[18])<<8 | int(plain[19])
	return plain[20 : 20+n], string(plain[20+n:])
}

func refEncrypt(t testing.TB, encodingAESKey, appid string, random, msg []byte) string {
	t.Helper()
	key := refKey(t, encodingAESKey)
	n := len(msg)
	plain := append(append([]byte{}, random...), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	plain = append(append(plain, msg...), appid...)
	pad := 32 - len(plain)%32
	for range pad {
		plain = append(plain, byte(pad))
	}
	block, _ := aes.NewCipher(key)
	prev := key[:16]
	var ct []byte
	for i := 0; i < len(plain); i += 16 {
		in := make([]byte, 16)
		for j := range in {
			in[j] = plain[i+j] ^ prev[j]
		}
		out := make([]byte, 16)
		block.Encrypt(out, in)
		ct = append(ct, out...)
		prev = out
	}
	return base64.StdEncoding.EncodeToString(ct)
}

func refSign(parts ...string) string {
	s := slices.Clone(parts)
	slices.Sort(s)
	sum := sha1.Sum([]byte(strings.Join(s, "")))
	return hex.EncodeToString(sum[:])
}

const testKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

func TestSignatureVectors(t *testing.T) {
	t.Parallel()
	// Test vectors from the reference (§10.2), recomputed there and verified.
	tests := []struct{ token, ts, nonce, want string }{
		{"AAAAA", "1714036504", "1514711492", "f464b24fc39322e44b38aa78f5edd27bd1441696"},
		{"AAAAA", "1714037059", "486452656", "899cf89e464efb63f54ddac96b0a0a235f53aa78"},
	}
	for _, tt := range tests {
		if got := Signature(tt.token, tt.ts, tt.nonce); got != tt.want {
			t.Errorf("Signature(%q, %q, %q) = %s, want %s", tt.token, tt.ts, tt.nonce, got, tt.want)
		}
	}
	if got, want := MsgSignature("tok", "1700000000", "42", "ENC+/="), refSign("tok", "1700000000", "42", "ENC+/="); got != want {
		t.Errorf("MsgSignature = %s, want %s", got, want)
	}
}

func TestEncryptDecryptsWithReference(t *testing.T) {
	t.Parallel()
	random := []byte("0123456789abcdef")
	tests := []struct {
		name, appid string
		msg         []byte
	}{
		{"empty message", "wx0123456789abcdef", nil},
		{"xml", "wx0123456789abcdef", []byte("<xml><ToUserName><![CDATA[gh_1]]></ToUserName></xml>")},
		{"chinese json", "wxffffffffffffffff", []byte(`{"Event":"wxa_comment_bad_score","txt":"差评：服务太慢"}`)},
		// 16 + 4 + 12 + 0 = 32: already aligned, so a whole block of padding follows.
		{"aligned", "", []byte("123456789012")},
		{"long", "wx0123456789abcdef", bytes.Repeat([]byte("x"), 1000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			enc, err := Encrypt(testKey, tt.appid, random, tt.msg)
			if err != nil {
				t.Fatalf("Encrypt: %v", err)
			}
			if want := refEncrypt(t, testKey, tt.appid, random, tt.msg); enc != want {
				t.Errorf("Encrypt = %s, want the reference's %s", enc, want)
			}
			msg, appid := refDecrypt(t, testKey, enc)
			if !bytes.Equal(msg, tt.msg) || appid != tt.appid {
				t.Errorf("reference decrypt = %q, %q; want %q, %q", msg, appid, tt.msg, tt.appid)
			}
			msg, appid, err = Decrypt(testKey, refEncrypt(t, testKey, tt.appid, []byte("ffffeeeeddddcccc"), tt.msg))
			if err != nil || !bytes.Equal(msg, tt.msg) || appid != tt.appid {
				t.Errorf("Decrypt(reference ciphertext) = %q, %q, %v; want %q, %q", msg, appid, err, tt.msg, tt.appid)
			}
		})
	}
}

func TestAlignedPlaintextGetsFullPadBlock(t *testing.T) {
	t.Parallel()
	enc, err := Encrypt(testKey, "", make([]byte, 16), []byte("123456789012"))
	if err != nil {
		t.Fatal(err)
	}
	ct, _ := base64.StdEncoding.DecodeString(enc)
	if len(ct) != 64 {
		t.Errorf("ciphertext of a 32-byte plaintext is %d bytes, want 64 (a whole pad block)", len(ct))
	}
}

func TestDecryptRejects(t *testing.T) {
	t.Parallel()
	good, err := Encrypt(testKey, "wx0123456789abcdef", make([]byte, 16), []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(good)
	tests := []struct{ name, key, enc string }{
		{"bad base64", testKey, "not base64!"},
		{"empty", testKey, ""},
		{"not whole blocks", testKey, base64.StdEncoding.EncodeToString(raw[:20])},
		// Deterministic: under this key the plaintext's length field overruns it, which Decrypt
		// must refuse.
		{"wrong key", "ZZZdefghijklmnopqrstuvwxyz0123456789ABCDEFG", good},
		{"short key", "abc", good},
		{"key with symbols", "abcdefghijklmnopqrstuvwxyz0123456789ABCDE+/", good},
		{"pad byte zero", testKey, refEncryptRaw(t, testKey, append(bytes.Repeat([]byte{1}, 31), 0))},
		{"pad byte 33", testKey, refEncryptRaw(t, testKey, append(bytes.Repeat([]byte{1}, 31), 33))},
		{"length overrun", testKey, refEncryptRaw(t, testKey, append(append(make([]byte, 16), 0, 0, 1, 0), bytes.Repeat([]byte{12}, 12)...))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if msg, appid, err := Decrypt(tt.key, tt.enc); err == nil {
				t.Errorf("Decrypt = %q, %q, nil; want an error", msg, appid)
			}
		})
	}
}

// refEncryptRaw encrypts an exact (already padded) plaintext with the reference CBC.
func refEncryptRaw(t testing.TB, encodingAESKey string, plain []byte) string {
	t.Helper()
	key := refKey(t, encodingAESKey)
	block, _ := aes.NewCipher(key)
	prev := key[:16]
	var ct []byte
	for i := 0; i < len(plain); i += 16 {
		in := make([]byte, 16)
		for j := range in {
			in[j] = plain[i+j] ^ prev[j]
		}
		out := make([]byte, 16)
		block.Encrypt(out, in)
		ct = append(ct, out...)
		prev = out
	}
	return base64.StdEncoding.EncodeToString(ct)
}

func TestAESKey(t *testing.T) {
	t.Parallel()
	for _, k := range []string{"", "short", testKey + "A", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEF_"} {
		if _, err := AESKey(k); err == nil {
			t.Errorf("AESKey(%q) = nil error, want one", k)
		}
	}
	k, err := AESKey(testKey)
	if err != nil || !bytes.Equal(k, refKey(t, testKey)) {
		t.Errorf("AESKey(%q) = %x, %v; want %x", testKey, k, err, refKey(t, testKey))
	}
}

func TestEncryptRejectsBadRandom(t *testing.T) {
	t.Parallel()
	if _, err := Encrypt(testKey, "wx", []byte("short"), nil); err == nil {
		t.Error("Encrypt with a 5-byte random prefix succeeded, want an error")
	}
}

// FuzzDecrypt checks that Decrypt never panics on any input, and that whatever Encrypt produces
// decrypts back to the same message and appid.
func FuzzDecrypt(f *testing.F) {
	good, _ := Encrypt(testKey, "wx0123456789abcdef", make([]byte, 16), []byte("<xml/>"))
	f.Add(good, []byte("<xml/>"), "wx0123456789abcdef")
	f.Add("", []byte{}, "")
	f.Add("AAAAAAAAAAAAAAAAAAAAAA==", []byte("x"), "wx")
	f.Fuzz(func(t *testing.T, enc string, msg []byte, appid string) {
		_, _, _ = Decrypt(testKey, enc)
		ct, err := Encrypt(testKey, appid, []byte("fedcba9876543210"), msg)
		if err != nil {
			t.Fatalf("Encrypt: %v", err)
		}
		got, gotApp, err := Decrypt(testKey, ct)
		if err != nil || !bytes.Equal(got, msg) || gotApp != appid {
			t.Fatalf("Decrypt(Encrypt(%q, %q)) = %q, %q, %v", msg, appid, got, gotApp, err)
		}
	})
}

// WeChat's own message-encryption sample, cryptoDemo.zip
// (https://wximg.gtimg.com/shake_tv/mpwiki/cryptoDemo.zip, linked from the official "message
// encryption and decryption" page): the decryption example of python/Sample.py and the
// fixed-random encryption of java/src/com/qq/weixin/mp/aes/WXBizMsgCryptTest.java
// (testAesEncrypt). The values are the sample's, copied, not computed here.
const (
	sampleEncodingAESKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	// Sample.py: DecryptMsg(from_xml, msg_sign, timestamp, nonce).
	sampleToken        = "spamtest"
	sampleAppID        = "wx2c2769f8efd9abc2"
	sampleTimestamp    = "1409735669"
	sampleNonce        = "1320562132"
	sampleMsgSignature = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
	sampleEncrypt      = "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
	// WXBizMsgCryptTest.java: encrypt(randomStr, replyMsg) == afterAesEncrypt.
	sampleJavaAppID   = "wxb11529c136998cb6"
	sampleJavaRandom  = "aaaabbbbccccdddd"
	sampleJavaMessage = "我是中文abcd123"
	sampleJavaEncrypt = "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
)

// TestOfficialSampleKnownAnswers checks the package against WeChat's published sample: the
// signature of its encrypted message, its decryption, and a fixed-random encryption.
func TestOfficialSampleKnownAnswers(t *testing.T) {
	t.Parallel()
	if got := MsgSignature(sampleToken, sampleTimestamp, sampleNonce, sampleEncrypt); got != sampleMsgSignature {
		t.Errorf("MsgSignature of the sample = %s, want the sample's %s", got, sampleMsgSignature)
	}
	msg, appid, err := Decrypt(sampleEncodingAESKey, sampleEncrypt)
	if err != nil {
		t.Fatalf("Decrypt(the sample's Encrypt): %v", err)
	}
	if appid != sampleAppID {
		t.Errorf("trailer appid = %q, want the sample's %q", appid, sampleAppID)
	}
	// The sample's message is in compatible mode: its clear fields are the plaintext's.
	var got struct {
		ToUserName, FromUserName, CreateTime, MsgType, Content, MsgId string
	}
	if err := xml.Unmarshal(msg, &got); err != nil {
		t.Fatalf("the decrypted message is not XML: %v\n%s", err, msg)
	}
	want := struct {
		ToUserName, FromUserName, CreateTime, MsgType, Content, MsgId string
	}{"gh_10f6c3c3ac5a", "oyORnuP8q7ou2gfYjqLzSIWZf0rs", "1409735668", "text", "abcdteT", "6054768590064713728"}
	if got != want {
		t.Errorf("decrypted message = %+v, want the sample's clear fields %+v", got, want)
	}

	enc, err := Encrypt(sampleEncodingAESKey, sampleJavaAppID, []byte(sampleJavaRandom), []byte(sampleJavaMessage))
	if err != nil {
		t.Fatal(err)
	}
	if enc != sampleJavaEncrypt {
		t.Errorf("Encrypt of the Java sample's message = %s, want the sample's %s", enc, sampleJavaEncrypt)
	}
	if msg, appid, err := Decrypt(sampleEncodingAESKey, sampleJavaEncrypt); err != nil || string(msg) != sampleJavaMessage || appid != sampleJavaAppID {
		t.Errorf("Decrypt(the Java sample's Encrypt) = %q, %q, %v; want %q, %q", msg, appid, err, sampleJavaMessage, sampleJavaAppID)
	}
}

package push

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// BlockSize is the PKCS#7 block size of WeChat's scheme: 32, not AES's 16.
const BlockSize = 32

// RandomSize is the length of the random prefix of every encrypted plaintext.
const RandomSize = 16

var encodingAESKeyPattern = regexp.MustCompile(`^[a-zA-Z0-9]{43}$`)

// ValidEncodingAESKey reports whether s is a well-formed EncodingAESKey: 43 characters from
// [a-zA-Z0-9], as WeChat's console requires.
func ValidEncodingAESKey(s string) bool { return encodingAESKeyPattern.MatchString(s) }

// AESKey decodes an EncodingAESKey into the 32-byte AES key: Base64Decode(EncodingAESKey + "=").
func AESKey(encodingAESKey string) ([]byte, error) {
	if !ValidEncodingAESKey(encodingAESKey) {
		return nil, errors.New("push: EncodingAESKey must be 43 characters from [a-zA-Z0-9]")
	}
	// The 43rd character carries 2 bits that do not fit in 32 bytes; WeChat's samples ignore them,
	// so a non-strict decoder is used.
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil {
		return nil, fmt.Errorf("push: decode EncodingAESKey: %w", err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("push: EncodingAESKey decodes to %d bytes, want 32", len(key))
	}
	return key, nil
}

// Encrypt encrypts msg for appid as WeChat's message-encryption scheme (WXBizMsgCrypt) does and
// returns the base64 ciphertext (the Encrypt field):
//
//	AES-256-CBC(key, iv = key[:16], PKCS#7-32(random(16) ‖ uint32be(len(msg)) ‖ msg ‖ appid))
//
// random must be RandomSize bytes; the sandbox draws it from its seeded source, so the same seed
// gives the same ciphertext.
func Encrypt(encodingAESKey, appid string, random, msg []byte) (string, error) {
	if len(random) != RandomSize {
		return "", fmt.Errorf("push: random prefix is %d bytes, want %d", len(random), RandomSize)
	}
	key, err := AESKey(encodingAESKey)
	if err != nil {
		return "", err
	}
	plain := make([]byte, 0, RandomSize+4+len(msg)+len(appid)+BlockSize)
	plain = append(plain, random...)
	plain = binary.BigEndian.AppendUint32(plain, uint32(len(msg)))
	plain = append(plain, msg...)
	plain = append(plain, appid...)
	pad := BlockSize - len(plain)%BlockSize
	plain = append(plain, bytes.Repeat([]byte{byte(pad)}, pad)...)
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", fmt.Errorf("push: %w", err)
	}
	out := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, key[:aes.BlockSize]).CryptBlocks(out, plain)
	return base64.StdEncoding.EncodeToString(out), nil
}

// Decrypt reverses Encrypt: it returns the message and the appid found in the trailer. It
// rejects anything malformed (bad base64, a length that is not a whole number of AES blocks, pad
// bytes outside 1..32, a message length that overruns the plaintext) with an error and never
// panics. Callers compare the returned appid with the one they expect.
func Decrypt(encodingAESKey, encrypted string) (msg []byte, appid string, err error) {
	key, err := AESKey(encodingAESKey)
	if err != nil {
		return nil, "", err
	}
	data, err := base64.StdEncoding.DecodeString(encrypted)
	if err != nil {
		return nil, "", fmt.Errorf("push: decode Encrypt: %w", err)
	}
	if len(data) == 0 || len(data)%aes.BlockSize != 0 {
		return nil, "", fmt.Errorf("push: ciphertext of %d bytes is not a whole number of blocks", len(data))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, "", fmt.Errorf("push: %w", err)
	}
	plain := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, key[:aes.BlockSize]).CryptBlocks(plain, data)
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > BlockSize || pad > len(plain) {
		return nil, "", fmt.Errorf("push: pad byte %d outside 1..%d", pad, BlockSize)
	}
	plain = plain[:len(plain)-pad]
	if len(plain) < RandomSize+4 {
		return nil, "", errors.New("push: plaintext shorter than its random prefix and length")
	}
	n := binary.BigEndian.Uint32(plain[RandomSize : RandomSize+4])
	rest := plain[RandomSize+4:]
	if uint64(n) > uint64(len(rest)) {
		return nil, "", fmt.Errorf("push: message length %d overruns the %d bytes left", n, len(rest))
	}
	return rest[:n], string(rest[n:]), nil
}

// Sign is WeChat's signature: the lowercase hex SHA-1 of the parts sorted lexicographically and
// concatenated.
func Sign(parts ...string) string {
	sorted := append([]string(nil), parts...)
	sort.Strings(sorted)
	sum := sha1.Sum([]byte(strings.Join(sorted, "")))
	return hex.EncodeToString(sum[:])
}

// Signature is the URL's signature parameter: Sign(token, timestamp, nonce).
func Signature(token, timestamp, nonce string) string { return Sign(token, timestamp, nonce) }

// MsgSignature is the URL's msg_signature parameter of an encrypted push:
// Sign(token, timestamp, nonce, encrypt).
func MsgSignature(token, timestamp, nonce, encrypt string) string {
	return Sign(token, timestamp, nonce, encrypt)
}

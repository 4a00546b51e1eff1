// Package push delivers WeChat's message pushes to integrators' servers, for real, over HTTP, and
// implements WeChat's message encryption (消息加解密, the WXBizMsgCrypt scheme) so that an
// integrator's own decryption code works unchanged.
//
// What is emulated (reference: wechat-component.md §10, wechat-api.md §5.5):
//   - keys and cipher: AESKey = Base64Decode(EncodingAESKey + "="), AES-256-CBC with IV = the
//     key's first 16 bytes, plaintext random(16) ‖ uint32be(len) ‖ msg ‖ appid, PKCS#7 padding to
//     32-byte blocks, standard base64 (Encrypt, Decrypt);
//   - signatures: signature = sha1(sort(token, timestamp, nonce)), msg_signature =
//     sha1(sort(token, timestamp, nonce, Encrypt)), lowercase hex (Sign, Signature, MsgSignature);
//   - envelopes in JSON or XML (strings in CDATA) for the three modes: plaintext, compatible (the
//     fields plus Encrypt) and safe (ToUserName or AppId plus Encrypt; the URL then carries
//     encrypt_type=aes and msg_signature) (Envelope, Build);
//   - the URL verification handshake: GET with signature, timestamp, nonce and echostr; the
//     receiver must answer exactly echostr (Deliverer.Verify);
//   - delivery: a POST that waits 5 s for an answer and is tried 3 times in all with the same URL
//     and body; every try is recorded under "wechat:push:delivery:<id>" (Deliverer.Deliver,
//     Deliverer.List).
//
// Choices where WeChat's behaviour is not documented (invented, the most plausible):
//   - delivery runs off the request path (queue.go): Deliver records the push as pending, with its
//     id, signature, nonce and encryption drawn in the order pushes are asked for, and queues it
//     for its receiver; each receiver's queue runs at most 4 deliveries at once, so one that hangs
//     holds up only its own pushes, and the call that caused a push answers at once; pushes
//     in one lane (a user's subscribe, SCAN and unsubscribe events) to one receiver go one at a
//     time, in order, so subscribe arrives before the SCAN that follows it (pushes resumed
//     after a restart keep no lane); system notifications wait for none. Wait (the
//     control verb POST /_sandbox/wechat/push/wait) tells when every queue is idle; a reset drops
//     the queued work of the old state, a shutdown cancels the tries in flight and leaves the
//     rest pending, and the next start sends what was left pending;
//   - any HTTP 200 answer within the timeout counts as delivered (an account's server may answer
//     "success", an empty body or a passive reply); Target.RequireSuccess narrows that to exactly
//     "success" for third-party system pushes; timeouts, connection errors and other statuses are
//     retried at once (Deps.RetryDelay can space the tries);
//   - the handshake is a single try and its echo must match exactly (no trimming);
//   - latency is measured in wall time, the only wall-time reading in the sandbox besides the
//     running clock: it times the integrator's server, not the sandbox; under a frozen clock
//     (tests, scenario replays) it reads 0, so the same requests answer the same bytes;
//   - a delivery record is kept a day of sandbox time after the push was made
//     (DeliveryRetention), then forgotten.
package push

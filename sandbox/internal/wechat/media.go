package wechat

// Temporary media (新增临时素材), POST /cgi-bin/media/upload: the sandbox takes images only and
// keeps only their description (id, owner, type, size, times), for three days. Other families
// read it through GetMedia (the review family's confirmcompromise takes image media ids).

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/seeded"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
)

func (p *Platform) registerMediaRoutes(r endpoint.Routes) {
	r.Handle("uploadTempMedia", p.handleMediaUpload) // POST /cgi-bin/media/upload
}

// MediaLifetime is how long a temporary media id can be used.
const MediaLifetime = 3 * 24 * time.Hour

// Media is an uploaded temporary media file (only its description is kept).
type Media struct {
	MediaID     string    `json:"media_id"`
	AppID       string    `json:"appid"`
	Type        string    `json:"type"`
	ContentType string    `json:"content_type"`
	Size        int       `json:"size"`
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// LiveAt reports whether the media id can still be used at now.
func (m *Media) LiveAt(now time.Time) bool { return now.Before(m.ExpiresAt) }

// ForgetAt implements store.Forgettable: media are forgotten when they expire, since an
// expired media id and an unknown one answer alike (40007).
func (m Media) ForgetAt() time.Time { return m.ExpiresAt }

func mediaKey(mediaID string) string { return "wechat:media:" + mediaID }

// GetMedia returns the temporary media with id, or nil. A medium may have expired and not yet
// been forgotten (see LiveAt).
func GetMedia(tx *store.Tx, mediaID string) (*Media, error) {
	return store.Get[Media](tx, mediaKey(mediaID))
}

// handleMediaUpload emulates POST /cgi-bin/media/upload for images: a multipart "media" file
// of type image (PNG, JPEG or GIF, by its bytes), valid 3 days.
func (p *Platform) handleMediaUpload(c *endpoint.Call) (any, error) {
	app := c.Principal.(*Principal).App
	if t := c.Query("type"); t != "image" {
		return nil, apierr.Newf(apierr.Invalid, 40004, "type %q: the sandbox takes images only", t)
	}
	req := c.Request()
	ct := req.Header.Get("Content-Type")
	data, err := multipartFile(ct, c.Body, "media")
	if err != nil {
		return nil, apierr.New(apierr.Invalid, 41005, err.Error())
	}
	kind := http.DetectContentType(data)
	switch kind {
	case "image/png", "image/jpeg", "image/gif":
	default:
		return nil, apierr.Newf(apierr.Invalid, 40005, "the file is %s, not a PNG, JPEG or GIF image", kind)
	}
	m := Media{
		MediaID: p.deps.Rand.Token(64, seeded.URLSafe), AppID: app.AppID, Type: "image", ContentType: kind,
		Size: len(data), CreatedAt: c.Now, ExpiresAt: c.Now.Add(MediaLifetime),
	}
	if err := p.deps.Store.Update(func(tx *store.Tx) error { return tx.Put(mediaKey(m.MediaID), m) }); err != nil {
		return nil, err
	}
	return struct {
		Type      string `json:"type"`
		MediaID   string `json:"media_id"`
		CreatedAt int64  `json:"created_at"`
	}{"image", m.MediaID, c.Now.Unix()}, nil
}

// multipartFile returns the contents of the file field name of a multipart/form-data body.
func multipartFile(contentType string, body []byte, name string) ([]byte, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, errors.New("the body is not multipart/form-data")
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return nil, fmt.Errorf("no %q file in the form", name)
		}
		if err != nil {
			return nil, fmt.Errorf("read form: %w", err)
		}
		if part.FormName() != name {
			continue
		}
		data, err := io.ReadAll(part)
		if err != nil {
			return nil, fmt.Errorf("read %q: %w", name, err)
		}
		if len(data) == 0 {
			return nil, fmt.Errorf("the %q file is empty", name)
		}
		return data, nil
	}
}

package jincheng

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/fixture"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
)

// registerCitizenRoutes lists the control-plane verbs on synthetic citizens.
func (p *Platform) registerCitizenRoutes(r endpoint.Routes) {
	r.Handle("jlbListCitizens", p.handleListCitizens)   // GET /_sandbox/jincheng/citizens
	r.Handle("jlbCreateCitizen", p.handleCreateCitizen) // POST /_sandbox/jincheng/citizens
	r.Handle("jlbGetCitizen", p.handleGetCitizen)       // GET /_sandbox/jincheng/citizens/{userid}
}

// jinchengCounties are the administrative-division codes (GB/T 2260) of Jincheng's districts and
// counties, the first six digits of a resident ID issued there.
var jinchengCounties = []string{"140502", "140521", "140522", "140524", "140525", "140581"}

// Common Chinese surnames and given-name characters, for the personas' display names.
var (
	surnames   = []string{"王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林", "何", "郭", "马", "罗", "梁", "宋", "郑", "谢", "韩", "唐", "冯", "于", "董", "萧", "程", "曹", "袁", "邓", "许", "傅", "沈", "曾", "彭", "吕", "苏", "卢", "蒋", "蔡", "贾", "丁", "魏", "薛", "叶", "阎", "余", "潘", "杜", "戴", "夏", "钟", "汪", "田", "任", "姜", "范", "方", "石", "姚", "谭", "廖", "邹", "熊", "金", "陆", "郝", "孔", "白", "崔", "康", "毛", "邱", "秦", "江", "史", "顾", "侯", "邵", "孟", "龙", "万", "段", "雷", "钱", "汤", "尹", "黎", "易", "常", "武", "乔", "贺", "赖", "龚", "文"}
	givenChars = []string{"伟", "芳", "娜", "秀", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "霞", "平", "刚", "桂", "英", "华", "玉", "兰", "辉", "鹏", "婷", "晨", "宇", "浩", "欣", "悦", "凯", "斌", "琳", "雪", "梅", "建", "国", "文", "红", "亮", "飞", "晋", "峰", "波", "佳", "慧"}
)

// idWeights are the GB 11643-1999 weights of the first 17 digits (2^(18-i) mod 11).
var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// IDCheckDigit returns the GB 11643 check character ('0'-'9' or 'X') of the first 17 digits of a
// resident ID number (ISO 7064 MOD 11-2), and false if they are not 17 digits.
func IDCheckDigit(first17 string) (byte, bool) {
	if len(first17) != 17 {
		return 0, false
	}
	sum := 0
	for i := range 17 {
		d := first17[i]
		if d < '0' || d > '9' {
			return 0, false
		}
		sum += int(d-'0') * idWeights[i]
	}
	return "10X98765432"[sum%11], true
}

// ValidID reports whether id is 18 characters with a correct GB 11643 check character.
func ValidID(id string) bool {
	if len(id) != 18 {
		return false
	}
	c, ok := IDCheckDigit(id[:17])
	return ok && id[17] == c
}

// newCitizen draws a persona from the sandbox's seeded faker. A mobile or name given by the caller
// is kept.
func (p *Platform) newCitizen(mobile, name string) *Citizen {
	return drawCitizen(p.deps.Faker, mobile, name)
}

// drawCitizen draws a persona from f: name, userid, mobile, a resident ID issued in Jincheng with
// its GB 11643 check digit, and the birthday and gender the ID encodes.
func drawCitizen(f *fixture.Faker, mobile, name string) *Citizen {
	c := &Citizen{Mobile: mobile, Name: name}
	c.UserID = fmt.Sprintf("%08x%08x%08x%08x", f.IntRange(0, math.MaxUint32), f.IntRange(0, math.MaxUint32), f.IntRange(0, math.MaxUint32), f.IntRange(0, math.MaxUint32))
	if c.Name == "" {
		c.Name = f.Pick(surnames) + f.Pick(givenChars)
		if f.IntRange(0, 1) == 1 {
			c.Name += f.Pick(givenChars)
		}
	}
	if c.Mobile == "" {
		c.Mobile = f.Mobile()
	}
	birth := time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, f.IntRange(0, 20088)) // to 2004-12-31
	seq := f.IntRange(0, 999)
	c.Gender = "female"
	if seq%2 == 1 {
		c.Gender = "male" // GB 11643: an odd sequence number is a man's
	}
	first := f.Pick(jinchengCounties) + birth.Format("20060102") + fmt.Sprintf("%03d", seq)
	check, _ := IDCheckDigit(first)
	c.IDNum = first + string(check)
	c.Birthday = birth.Format("2006-01-02")
	return c
}

// addCitizen stores a new citizen; a mobile already registered is refused.
func (p *Platform) addCitizen(tx *store.Tx, c *Citizen) error {
	if _, taken, err := tx.GetRaw(keyMobile + c.Mobile); err != nil {
		return err
	} else if taken {
		return named(codeCitizenExists, "mobile "+c.Mobile+" already belongs to a citizen")
	}
	if err := tx.Put(keyCitizen+c.UserID, c); err != nil {
		return err
	}
	return tx.PutRaw(keyMobile+c.Mobile, c.UserID)
}

func (p *Platform) handleListCitizens(*endpoint.Call) (any, error) {
	items := []Citizen{}
	err := p.deps.Store.View(func(tx *store.Tx) error {
		return store.Each(tx, keyCitizen, func(_ string, c *Citizen) error {
			items = append(items, *c)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(items, func(a, b Citizen) int { return compareStrings(a.Mobile, b.Mobile) })
	return map[string]any{"items": items}, nil
}

func (p *Platform) handleCreateCitizen(c *endpoint.Call) (any, error) {
	var req struct {
		Mobile string `json:"mobile"`
		Name   string `json:"name"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	cz := p.newCitizen(req.Mobile, req.Name)
	if err := p.deps.Store.Update(func(tx *store.Tx) error { return p.addCitizen(tx, cz) }); err != nil {
		return nil, err
	}
	return endpoint.Created(cz), nil
}

func (p *Platform) handleGetCitizen(c *endpoint.Call) (any, error) {
	var cz *Citizen
	err := p.deps.Store.View(func(tx *store.Tx) error {
		var err error
		cz, err = getCitizen(tx, c.Param("userid"))
		return err
	})
	if err != nil {
		return nil, err
	}
	if cz == nil {
		return nil, named(codeCitizenNotFound, "no citizen "+c.Param("userid"))
	}
	return cz, nil
}

// FaceJPEG draws a synthetic ID-photo-style face for a citizen: the same userid always gives the
// same picture. It is a baseline JPEG well under 64 KB.
func FaceJPEG(userid string) ([]byte, error) {
	h := fnv.New64a()
	_, _ = h.Write([]byte(userid))
	seed := h.Sum64()
	rng := rand.New(rand.NewPCG(seed, seed>>7|1))
	const w, ht = 180, 240
	img := image.NewRGBA(image.Rect(0, 0, w, ht))
	bg := []color.RGBA{{67, 142, 219, 255}, {255, 255, 255, 255}, {200, 30, 40, 255}}[rng.IntN(3)] // ID-photo backgrounds
	skins := []color.RGBA{{241, 204, 170, 255}, {228, 185, 142, 255}, {210, 165, 125, 255}, {245, 215, 190, 255}}
	skin := skins[rng.IntN(len(skins))]
	hair := color.RGBA{uint8(20 + rng.IntN(40)), uint8(15 + rng.IntN(30)), uint8(10 + rng.IntN(25)), 255}
	cloth := color.RGBA{uint8(rng.IntN(90)), uint8(rng.IntN(90)), uint8(40 + rng.IntN(120)), 255}
	cx := float64(w)/2 + float64(rng.IntN(7)-3)
	faceW, faceH := 46+float64(rng.IntN(8)), 60+float64(rng.IntN(8))
	faceY := 112.0
	longHair := rng.IntN(2) == 0
	eyeY := faceY - 8
	eyeDX := 17 + float64(rng.IntN(4))
	mouthW := 12 + float64(rng.IntN(6))
	inEllipse := func(x, y, ex, ey, rx, ry float64) float64 {
		dx, dy := (x-ex)/rx, (y-ey)/ry
		return dx*dx + dy*dy
	}
	shade := func(c color.RGBA, f float64) color.RGBA {
		s := func(v uint8) uint8 { return uint8(math.Max(0, math.Min(255, float64(v)*f))) }
		return color.RGBA{s(c.R), s(c.G), s(c.B), 255}
	}
	for y := range ht {
		for x := range w {
			fx, fy := float64(x), float64(y)
			col := shade(bg, 1.05-0.1*fy/ht)
			if inEllipse(fx, fy, cx, 250, 82, 70) <= 1 { // shoulders
				col = cloth
			}
			if fx > cx-16 && fx < cx+16 && fy > faceY+40 && fy < faceY+80 { // neck
				col = shade(skin, 0.9)
			}
			if longHair && inEllipse(fx, fy, cx, faceY+10, faceW+12, faceH+28) <= 1 {
				col = hair
			}
			if inEllipse(fx, fy, cx, faceY-14, faceW+6, faceH-6) <= 1 && fy < faceY-10 { // hair cap
				col = hair
			}
			if d := inEllipse(fx, fy, cx, faceY, faceW, faceH); d <= 1 && fy >= faceY-38 {
				col = shade(skin, 1.04-0.12*d)
			}
			for _, ex := range []float64{cx - eyeDX, cx + eyeDX} {
				if inEllipse(fx, fy, ex, eyeY, 7, 3.5) <= 1 {
					col = color.RGBA{250, 250, 250, 255}
				}
				if inEllipse(fx, fy, ex, eyeY, 3, 3) <= 1 {
					col = color.RGBA{30, 22, 18, 255}
				}
				if inEllipse(fx, fy, ex, eyeY-10, 9, 1.8) <= 1 { // eyebrow
					col = hair
				}
			}
			if fx >= cx-1 && fx <= cx+1 && fy > eyeY+6 && fy < faceY+16 { // nose
				col = shade(skin, 0.82)
			}
			if inEllipse(fx, fy, cx, faceY+30, mouthW, 3.2) <= 1 {
				col = color.RGBA{176, 72, 72, 255}
			}
			img.SetRGBA(x, y, col)
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}); err != nil {
		return nil, fmt.Errorf("jincheng: face image: %w", err)
	}
	return buf.Bytes(), nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// errNotFound is the portal's answer for a resource that does not exist or is not the vendor's.
func errNotFound(what string) *apierr.Error { return named(codeAdminNotFound, what) }

// pad returns n as a zero-padded decimal of width digits.
func pad(n, digits int) string {
	s := strconv.Itoa(n)
	for len(s) < digits {
		s = "0" + s
	}
	return s
}

// Package demo is the content of the caddy-presign demo (demo.sh,
// demo/Caddyfile, demo/index.html): a private bucket with a report to
// download and a few generated pictures for the gallery, and the CORS rule
// that lets the demo page post uploads straight to the bucket.
//
// It lives in the systest module, beside the browser test that seeds its
// own bucket with Seed, so that the S3 client it needs is no requirement of
// the module users build. demo.sh seeds its bucket with `go run ./demo/seed`
// in systest/.
package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

const (
	// Bucket is the demo's bucket: private, as every bucket should be.
	Bucket = "demo"
	// DownloadName is the file name of the report behind the download
	// button: not ASCII, to show Content-Disposition's filename*.
	DownloadName = "Quartalsbericht März.pdf"
	// DownloadKey is the report's object key; the page links to
	// /download/Quartalsbericht%20M%C3%A4rz.pdf.
	DownloadKey = "download/" + DownloadName
	// GalleryCount is the number of pictures, gallery/1.png to gallery/N.png.
	GalleryCount = 6
	// UploadPrefix is where the page's uploads land: uploads/<file name>.
	UploadPrefix = "uploads/"
	// BrowsePrefix is the listed folder of the Browse section: a dozen
	// files and the subfolder BrowseSubfolder.
	BrowsePrefix = "browse/"
	// BrowseSubfolder is the subfolder of BrowsePrefix, with BrowseFile.
	BrowseSubfolder = "notes/"
	// BrowseFile is the file in BrowseSubfolder that the browser test
	// downloads.
	BrowseFile = "readme.txt"

	picW, picH = 480, 320
)

// GalleryKey is the key of picture i (1 to GalleryCount).
func GalleryKey(i int) string { return fmt.Sprintf("gallery/%d.png", i) }

// Seed creates the bucket (when it does not exist yet), allows POST uploads
// from the given page origins (e.g. "http://127.0.0.1:8080") with a bucket
// CORS rule, and stores the report and the pictures.
func Seed(ctx context.Context, c *s3.Client, origins []string) error {
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(Bucket)})
	var ae smithy.APIError
	if err != nil && !(errors.As(err, &ae) && (ae.ErrorCode() == "BucketAlreadyOwnedByYou" || ae.ErrorCode() == "BucketAlreadyExists")) {
		return fmt.Errorf("creating bucket %s: %w", Bucket, err)
	}
	// The page posts its uploads with fetch(), which may read the answer of
	// another origin only when that origin says so. Downloads and <img>
	// need no CORS: they follow redirects like any link. Uppy PUTs parts and
	// reads their ETag.
	_, err = c.PutBucketCors(ctx, &s3.PutBucketCorsInput{
		Bucket: aws.String(Bucket),
		CORSConfiguration: &types.CORSConfiguration{CORSRules: []types.CORSRule{{
			AllowedOrigins: origins,
			AllowedMethods: []string{"POST", "PUT"},
			AllowedHeaders: []string{"*"},
			ExposeHeaders:  []string{"ETag"},
			MaxAgeSeconds:  aws.Int32(600),
		}}},
	})
	if err != nil {
		return fmt.Errorf("setting the CORS rule of bucket %s: %w", Bucket, err)
	}
	put := func(key, typ string, body []byte) error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{
			Bucket:      aws.String(Bucket),
			Key:         aws.String(key),
			Body:        bytes.NewReader(body),
			ContentType: aws.String(typ),
		})
		if err != nil {
			return fmt.Errorf("storing %s: %w", key, err)
		}
		return nil
	}
	if err := put(DownloadKey, "application/pdf", ReportPDF()); err != nil {
		return err
	}
	for i := 1; i <= GalleryCount; i++ {
		if err := put(GalleryKey(i), "image/png", GalleryPNG(i)); err != nil {
			return err
		}
	}
	for i := 1; i <= 12; i++ {
		if err := put(fmt.Sprintf("%sfile-%02d.txt", BrowsePrefix, i), "text/plain", BrowseBody(fmt.Sprintf("file-%02d.txt", i))); err != nil {
			return err
		}
	}
	return put(BrowsePrefix+BrowseSubfolder+BrowseFile, "text/plain", BrowseBody(BrowseFile))
}

// BrowseBody is the content of the Browse section's file name.
func BrowseBody(name string) []byte {
	return []byte("This is " + name + ", listed by browse and served from a private bucket.\n")
}

// ReportPDF is a one-page PDF, the report behind the download button.
func ReportPDF() []byte {
	text := "BT /F1 28 Tf 72 720 Td (Quartalsbericht M\\344rz) Tj ET\n" +
		"BT /F1 14 Tf 72 690 Td (Served from a private bucket through a presigned URL.) Tj ET\n"
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", len(text), text),
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// GalleryPNG draws picture i (1 to GalleryCount) as a PNG: small generated
// landscapes and patterns, the same bytes every time.
func GalleryPNG(i int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, picW, picH))
	draw := pictures[(i-1)%len(pictures)]
	for y := 0; y < picH; y++ {
		for x := 0; x < picW; x++ {
			img.SetNRGBA(x, y, draw(float64(x)/picW, float64(y)/picH))
		}
	}
	if i == 6 { // stars over the night sky
		r := rand.New(rand.NewPCG(6, 6)) //nolint:gosec // G404: a fixed seed, for the same picture each time; no secret
		for range 160 {
			x, y := r.IntN(picW), r.IntN(picH*2/3)
			v := uint8(160 + r.IntN(96))
			img.SetNRGBA(x, y, color.NRGBA{v, v, 255, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err) // cannot happen with an in-memory image
	}
	return b.Bytes()
}

// pictures draw one pixel at (x, y), both in [0, 1).
var pictures = []func(x, y float64) color.NRGBA{
	// sunset over the sea
	func(x, y float64) color.NRGBA {
		if y > 0.62 {
			w := 0.5 + 0.5*math.Sin(y*90+math.Sin(x*20)*2)
			return mix(rgb(24, 48, 96), rgb(250, 150, 90), (1-y)*w*1.6)
		}
		if d := math.Hypot(x-0.5, (y-0.55)*picH/picW); d < 0.12 {
			return rgb(255, 214, 120)
		}
		return mix(rgb(250, 120, 80), rgb(70, 40, 120), 1-y/0.62)
	},
	// mountains
	func(x, y float64) color.NRGBA {
		for k, c := range []color.NRGBA{rgb(40, 60, 90), rgb(70, 100, 130), rgb(120, 150, 170)} {
			h := 0.35 + 0.12*float64(k) + 0.1*math.Sin(x*7+float64(k)*2) + 0.05*math.Sin(x*23+float64(k))
			if y > h {
				return c
			}
		}
		return mix(rgb(200, 225, 245), rgb(120, 170, 220), 1-y*2)
	},
	// rings
	func(x, y float64) color.NRGBA {
		d := math.Hypot(x-0.5, (y-0.5)*picH/picW)
		t := 0.5 + 0.5*math.Sin(d*60)
		return mix(rgb(255, 245, 230), rgb(230, 90, 110), t)
	},
	// a Mandelbrot set
	func(x, y float64) color.NRGBA {
		cr, ci := -2.2+x*3.2, -1.07+y*2.14
		zr, zi := 0.0, 0.0
		n := 0
		for ; n < 60 && zr*zr+zi*zi < 4; n++ {
			zr, zi = zr*zr-zi*zi+cr, 2*zr*zi+ci
		}
		if n == 60 {
			return rgb(20, 20, 40)
		}
		return mix(rgb(30, 40, 110), rgb(120, 230, 255), math.Sqrt(float64(n)/60))
	},
	// plaid
	func(x, y float64) color.NRGBA {
		a := 0.5 + 0.5*math.Sin(x*40)
		b := 0.5 + 0.5*math.Sin(y*40)
		return mix(mix(rgb(40, 110, 80), rgb(230, 200, 120), a), rgb(150, 40, 50), b*0.5)
	},
	// night sky over hills (the stars are added by GalleryPNG)
	func(x, y float64) color.NRGBA {
		if y > 0.7+0.08*math.Sin(x*9) {
			return rgb(15, 30, 25)
		}
		return mix(rgb(10, 12, 40), rgb(60, 50, 120), y)
	},
}

func rgb(r, g, b uint8) color.NRGBA { return color.NRGBA{r, g, b, 255} }

// mix blends a into b by t in [0, 1] (0: a, 1: b).
func mix(a, b color.NRGBA, t float64) color.NRGBA {
	t = math.Max(0, math.Min(1, t))
	f := func(p, q uint8) uint8 { return uint8(float64(p) + (float64(q)-float64(p))*t + 0.5) }
	return color.NRGBA{f(a.R, b.R), f(a.G, b.G), f(a.B, b.B), 255}
}

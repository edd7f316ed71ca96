// Command seed fills the demo's bucket (see package demo): demo.sh runs it
// once versitygw is started. It waits up to 20 seconds for the store to
// answer.
//
//	cd systest && go run ./demo/seed -endpoint http://127.0.0.1:8333 -origin http://127.0.0.1:8080
//
// The keys come from DEMO_ACCESS_KEY and DEMO_SECRET_KEY.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/caddy-presign/presign/systest/demo"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("seed: ")
	endpoint := flag.String("endpoint", "http://127.0.0.1:8333", "the S3 endpoint")
	region := flag.String("region", "us-east-1", "the S3 region")
	origins := flag.String("origin", "http://127.0.0.1:8080", "the demo page's origins that may post uploads, comma-separated")
	flag.Parse()
	id, secret := os.Getenv("DEMO_ACCESS_KEY"), os.Getenv("DEMO_SECRET_KEY")
	if id == "" || secret == "" {
		log.Fatal("set DEMO_ACCESS_KEY and DEMO_SECRET_KEY")
	}
	c := s3.New(s3.Options{
		Region:       *region,
		BaseEndpoint: aws.String(*endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(id, secret, ""),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	deadline := time.Now().Add(20 * time.Second)
	for { // wait until the store answers
		_, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			log.Fatalf("%s does not answer: %v", *endpoint, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := demo.Seed(ctx, c, strings.Split(*origins, ",")); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("seed: bucket %q: %s and %d pictures\n", demo.Bucket, demo.DownloadKey, demo.GalleryCount)
}

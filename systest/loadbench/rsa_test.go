package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/pem"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-presign/presign/systest/harness"
)

// BenchmarkRawRSA2048 is the machine's raw CloudFront signing rate, which
// loadbench compares cf-unique with (run from the test binary of this
// package, -rsa-bench): rsa.SignPKCS1v15 with SHA-1 (CloudFront's scheme)
// and the test key that bench/Caddyfile uses, on every core (GOMAXPROCS). It
// reports sigs/s, the rate that CloudFront without `stable` cannot beat, and
// cpu-us/sig, the CPU time per signature (less sensitive to other load on
// the machine).
func BenchmarkRawRSA2048(b *testing.B) {
	raw, err := os.ReadFile(harness.RepoPath("signers/cloudfront/testdata/cloudfront-rsa-pkcs1.pem"))
	if err != nil {
		b.Fatal(err)
	}
	blk, _ := pem.Decode(raw)
	if blk == nil {
		b.Fatal("no PEM block in the test key")
	}
	key, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
	if err != nil {
		b.Fatal(err)
	}
	if key.N.BitLen() != 2048 {
		b.Fatalf("the test key has %d bits, not 2048", key.N.BitLen())
	}
	digest := sha1.Sum([]byte(`{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/obj-1-1","Condition":{"DateLessThan":{"AWS:EpochTime":1767229200}}}]}`))
	b.ReportAllocs()
	cpu0 := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA1, digest[:]); err != nil {
				b.Error(err)
				return
			}
		}
	})
	cpu := processCPU() - cpu0
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sigs/s")
	b.ReportMetric(float64(cpu)/float64(time.Microsecond)/float64(b.N), "cpu-us/sig")
}

// processCPU is the CPU time (user and system, all threads) this process
// has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

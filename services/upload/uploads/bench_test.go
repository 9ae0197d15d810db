package uploads

import (
	"testing"

	"github.com/switchyard-hub/switchyard/pkg/upload"
)

// BenchmarkPutChunk stores 1 MiB chunks of one upload in order through a
// real embedded NATS and one replica (client → service → JetStream ack →
// reply), with the header checksum and without (then the service computes
// it). Run: go test -run '^$' -bench PutChunk ./services/upload/uploads/
func BenchmarkPutChunk(b *testing.B) {
	for _, withSum := range []bool{true, false} {
		name := "checksum"
		if !withSum {
			name = "no-checksum"
		}
		b.Run(name, func(b *testing.B) {
			_, _, c := setup(b)
			chunk := testData(mib, 14)
			sum := sha(chunk)
			size := int64(b.N) * mib
			init, err := c.Init(ctxT(b), upload.InitRequest{TotalSize: size, Files: []upload.FileSpec{{Path: "bench.bin", Size: size}}})
			if err != nil {
				b.Fatal(err)
			}
			ch := upload.Chunk{UploadID: init.UploadID, FilePath: "bench.bin", Data: chunk}
			if withSum {
				ch.Checksum = sum
			}
			b.SetBytes(mib)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ch.Offset = int64(i) * mib
				if _, err := c.PutChunk(ctxT(b), ch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The Go side of the ttrpc-ts interop tests (test/interop/go-ttrpc.test.ts): Go's
// github.com/containerd/ttrpc as Debian packages it, built offline in GOPATH mode by
// scripts/ttrpc-go-peer.sh.
//
//	go-peer server SOCKET   serves the Echo service below; prints "ready" once listening
//	go-peer client SOCKET   runs every scenario against an Echo server; one line each: "ok NAME" or "FAIL NAME: why"
//
// Both sides of the tests implement the same service, ttrpcts.interop.Echo, with
// google.protobuf.StringValue for every message.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/ttrpc"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const service = "ttrpcts.interop.Echo"

// The largest frame either side accepts (Go's ttrpc: 4 MiB).
const maxFrame = 4 << 20

func str(s string) *wrapperspb.StringValue { return wrapperspb.String(s) }

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: go-peer server|client SOCKET")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "server":
		err = serve(os.Args[2])
	case "client":
		err = runClient(os.Args[2])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-peer:", err)
		os.Exit(1)
	}
}

// ---- server ------------------------------------------------------------------------------------

func unary(handle func(ctx context.Context, in string) (string, error)) ttrpc.Method {
	return func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
		var req wrapperspb.StringValue
		if err := unmarshal(&req); err != nil {
			return nil, err
		}
		out, err := handle(ctx, req.GetValue())
		if err != nil {
			return nil, err
		}
		return str(out), nil
	}
}

// failure turns "CODE:MESSAGE" into that status, with one StringValue detail.
func failure(in string) error {
	codeText, message, _ := strings.Cut(in, ":")
	code, err := strconv.Atoi(codeText)
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "bad code %q", codeText)
	}
	detail, err := anypb.New(str("detail: " + message))
	if err != nil {
		return err
	}
	return status.FromProto(&spb.Status{Code: int32(code), Message: message, Details: []*anypb.Any{detail}}).Err()
}

func serve(path string) error {
	_ = os.Remove(path)
	listener, err := net.Listen("unix", path)
	if err != nil {
		return err
	}
	server, err := ttrpc.NewServer(ttrpc.WithServerHandshaker(ttrpc.UnixSocketRequireSameUser()))
	if err != nil {
		return err
	}
	server.RegisterService(service, &ttrpc.ServiceDesc{
		Methods: map[string]ttrpc.Method{
			"Echo": unary(func(_ context.Context, in string) (string, error) { return in, nil }),
			"Metadata": unary(func(ctx context.Context, key string) (string, error) {
				md, _ := ttrpc.GetMetadata(ctx)
				values, _ := md.Get(key)
				return strings.Join(values, ","), nil
			}),
			"Fail": unary(func(_ context.Context, in string) (string, error) { return "", failure(in) }),
			"Sleep": unary(func(ctx context.Context, _ string) (string, error) {
				<-ctx.Done()
				return "", ctx.Err()
			}),
			"Deadline": unary(func(ctx context.Context, _ string) (string, error) {
				deadline, ok := ctx.Deadline()
				if !ok {
					return "none", nil
				}
				return strconv.FormatInt(time.Until(deadline).Milliseconds(), 10), nil
			}),
			"Size": unary(func(_ context.Context, in string) (string, error) {
				n, err := strconv.Atoi(in)
				if err != nil {
					return "", status.Errorf(codes.InvalidArgument, "bad size %q", in)
				}
				return strings.Repeat("x", n), nil
			}),
			"Length": unary(func(_ context.Context, in string) (string, error) { return strconv.Itoa(len(in)), nil }),
		},
		Streams: map[string]ttrpc.Stream{
			// Request "N" (or "N:fail"): N messages "0".."N-1", then the end (or NotFound).
			"ServerStream": {StreamingServer: true, Handler: func(ctx context.Context, ss ttrpc.StreamServer) (interface{}, error) {
				var req wrapperspb.StringValue
				if err := ss.RecvMsg(&req); err != nil {
					return nil, err
				}
				countText, fail := strings.CutSuffix(req.GetValue(), ":fail")
				count, _ := strconv.Atoi(countText)
				for i := 0; i < count; i++ {
					if err := ss.SendMsg(str(strconv.Itoa(i))); err != nil {
						return nil, err
					}
				}
				if fail {
					return nil, status.Errorf(codes.NotFound, "stream failed after %d", count)
				}
				return nil, nil
			}},
			// Every message received, joined, as the one answer.
			"ClientStream": {StreamingClient: true, Handler: func(ctx context.Context, ss ttrpc.StreamServer) (interface{}, error) {
				var parts []string
				for {
					var msg wrapperspb.StringValue
					if err := ss.RecvMsg(&msg); err != nil {
						if errors.Is(err, io.EOF) {
							return str(strings.Join(parts, "")), nil
						}
						return nil, err
					}
					parts = append(parts, msg.GetValue())
				}
			}},
			// Each message back upper-cased, until the client closes its side.
			"BidiStream": {StreamingClient: true, StreamingServer: true, Handler: func(ctx context.Context, ss ttrpc.StreamServer) (interface{}, error) {
				for {
					var msg wrapperspb.StringValue
					if err := ss.RecvMsg(&msg); err != nil {
						if errors.Is(err, io.EOF) {
							return nil, nil
						}
						return nil, err
					}
					if err := ss.SendMsg(str(strings.ToUpper(msg.GetValue()))); err != nil {
						return nil, err
					}
				}
			}},
		},
	})
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = server.Shutdown(shutdownCtx)
	}()
	fmt.Println("ready")
	if err := server.Serve(ctx, listener); err != nil && !errors.Is(err, ttrpc.ErrServerClosed) {
		return err
	}
	return nil
}

// ---- client ------------------------------------------------------------------------------------

type checker struct{ failed bool }

func (c *checker) run(name string, scenario func() error) {
	if err := scenario(); err != nil {
		c.failed = true
		fmt.Printf("FAIL %s: %v\n", name, strings.ReplaceAll(err.Error(), "\n", " "))
		return
	}
	fmt.Printf("ok %s\n", name)
}

func call(ctx context.Context, client *ttrpc.Client, method, in string) (string, error) {
	var resp wrapperspb.StringValue
	err := client.Call(ctx, service, method, str(in), &resp)
	return resp.GetValue(), err
}

func expectCode(err error, want codes.Code) (*status.Status, error) {
	st, ok := status.FromError(err)
	if !ok {
		return nil, fmt.Errorf("want %v, got a non-status error %v", want, err)
	}
	if st.Code() != want {
		return nil, fmt.Errorf("want %v, got %v: %s", want, st.Code(), st.Message())
	}
	return st, nil
}

// lengthRequestFrame is the length of the Request frame that Length(value of n bytes) sends.
func lengthRequestFrame(n int) int {
	payload, _ := proto.Marshal(str(strings.Repeat("x", n)))
	frame, _ := proto.Marshal(&ttrpc.Request{Service: service, Method: "Length", Payload: payload})
	return len(frame)
}

func runClient(path string) error {
	conn, err := net.Dial("unix", path)
	if err != nil {
		return err
	}
	client := ttrpc.NewClient(conn)
	defer client.Close()
	bg := context.Background()
	c := &checker{}

	c.run("unary", func() error {
		out, err := call(bg, client, "Echo", "hello")
		if err != nil || out != "hello" {
			return fmt.Errorf("got %q, %v", out, err)
		}
		return nil
	})
	c.run("metadata", func() error {
		md := ttrpc.MD{}
		md.Set("interop-key", "one", "two")
		out, err := call(ttrpc.WithMetadata(bg, md), client, "Metadata", "interop-key")
		if err != nil || out != "one,two" {
			return fmt.Errorf("got %q, %v", out, err)
		}
		return nil
	})
	c.run("error-code-message-details", func() error {
		_, err := call(bg, client, "Fail", "5:no such thing")
		st, err := expectCode(err, codes.NotFound)
		if err != nil {
			return err
		}
		if st.Message() != "no such thing" {
			return fmt.Errorf("message %q", st.Message())
		}
		details := st.Proto().GetDetails()
		if len(details) != 1 {
			return fmt.Errorf("%d details", len(details))
		}
		var detail wrapperspb.StringValue
		if err := details[0].UnmarshalTo(&detail); err != nil {
			return fmt.Errorf("detail %s: %v", details[0].GetTypeUrl(), err)
		}
		if detail.GetValue() != "detail: no such thing" {
			return fmt.Errorf("detail %q", detail.GetValue())
		}
		return nil
	})
	c.run("unimplemented", func() error {
		_, err := call(bg, client, "NoSuchMethod", "")
		_, err = expectCode(err, codes.Unimplemented)
		return err
	})
	c.run("deadline-propagated", func() error {
		ctx, cancel := context.WithTimeout(bg, 10*time.Second)
		defer cancel()
		out, err := call(ctx, client, "Deadline", "")
		if err != nil {
			return err
		}
		left, err := strconv.Atoi(out)
		if err != nil || left <= 0 || left > 10_000 {
			return fmt.Errorf("server saw %q ms left of 10000", out)
		}
		return nil
	})
	c.run("deadline-exceeded", func() error {
		ctx, cancel := context.WithTimeout(bg, 300*time.Millisecond)
		defer cancel()
		_, err := call(ctx, client, "Sleep", "")
		// The server's answer and the client's own timer race; either way it is DeadlineExceeded.
		if errors.Is(err, context.DeadlineExceeded) {
			return nil
		}
		_, err = expectCode(err, codes.DeadlineExceeded)
		return err
	})
	c.run("cancelled", func() error {
		ctx, cancel := context.WithCancel(bg)
		go func() { time.Sleep(100 * time.Millisecond); cancel() }()
		_, err := call(ctx, client, "Sleep", "")
		if !errors.Is(err, context.Canceled) {
			return fmt.Errorf("want context.Canceled, got %v", err)
		}
		out, err := call(bg, client, "Echo", "after cancel")
		if err != nil || out != "after cancel" {
			return fmt.Errorf("the connection after a cancelled call: %q, %v", out, err)
		}
		return nil
	})
	c.run("request-at-limit", func() error {
		n := maxFrame - 100
		n += maxFrame - lengthRequestFrame(n)
		n += maxFrame - lengthRequestFrame(n)
		if lengthRequestFrame(n) != maxFrame {
			return fmt.Errorf("could not size a request to %d", maxFrame)
		}
		var resp wrapperspb.StringValue
		if err := client.Call(bg, service, "Length", str(strings.Repeat("x", n)), &resp); err != nil {
			return err
		}
		if resp.GetValue() != strconv.Itoa(n) {
			return fmt.Errorf("server counted %s of %d", resp.GetValue(), n)
		}
		return nil
	})
	// A Response frame is 10 bytes more than the string it carries at this size.
	c.run("response-at-limit", func() error {
		out, err := call(bg, client, "Size", strconv.Itoa(maxFrame-10))
		if err != nil || len(out) != maxFrame-10 {
			return fmt.Errorf("got %d bytes, %v", len(out), err)
		}
		return nil
	})
	c.run("concurrent-200", func() error {
		var wg sync.WaitGroup
		errs := make(chan error, 200)
		for i := 0; i < 200; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				want := fmt.Sprintf("call %d", i)
				out, err := call(bg, client, "Echo", want)
				if err != nil || out != want {
					errs <- fmt.Errorf("call %d: %q, %v", i, out, err)
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			return err
		}
		return nil
	})
	c.run("server-stream", func() error {
		stream, err := client.NewStream(bg, &ttrpc.StreamDesc{StreamingServer: true}, service, "ServerStream", str("5"))
		if err != nil {
			return err
		}
		var got []string
		for {
			var msg wrapperspb.StringValue
			if err := stream.RecvMsg(&msg); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return err
			}
			got = append(got, msg.GetValue())
		}
		if strings.Join(got, ",") != "0,1,2,3,4" {
			return fmt.Errorf("got %v", got)
		}
		return nil
	})
	c.run("server-stream-error", func() error {
		stream, err := client.NewStream(bg, &ttrpc.StreamDesc{StreamingServer: true}, service, "ServerStream", str("2:fail"))
		if err != nil {
			return err
		}
		var got []string
		for {
			var msg wrapperspb.StringValue
			err := stream.RecvMsg(&msg)
			if err != nil {
				if _, err := expectCode(err, codes.NotFound); err != nil {
					return err
				}
				break
			}
			got = append(got, msg.GetValue())
		}
		if strings.Join(got, ",") != "0,1" {
			return fmt.Errorf("got %v before the error", got)
		}
		return nil
	})
	c.run("client-stream", func() error {
		stream, err := client.NewStream(bg, &ttrpc.StreamDesc{StreamingClient: true}, service, "ClientStream", nil)
		if err != nil {
			return err
		}
		for _, part := range []string{"a", "b", "c"} {
			if err := stream.SendMsg(str(part)); err != nil {
				return err
			}
		}
		if err := stream.CloseSend(); err != nil {
			return err
		}
		var resp wrapperspb.StringValue
		if err := stream.RecvMsg(&resp); err != nil {
			return err
		}
		if resp.GetValue() != "abc" {
			return fmt.Errorf("got %q", resp.GetValue())
		}
		return nil
	})
	c.run("bidi-stream", func() error {
		stream, err := client.NewStream(bg, &ttrpc.StreamDesc{StreamingClient: true, StreamingServer: true}, service, "BidiStream", nil)
		if err != nil {
			return err
		}
		for _, word := range []string{"one", "two", "three"} {
			if err := stream.SendMsg(str(word)); err != nil {
				return err
			}
			var msg wrapperspb.StringValue
			if err := stream.RecvMsg(&msg); err != nil {
				return err
			}
			if msg.GetValue() != strings.ToUpper(word) {
				return fmt.Errorf("sent %q, got %q", word, msg.GetValue())
			}
		}
		if err := stream.CloseSend(); err != nil {
			return err
		}
		var msg wrapperspb.StringValue
		if err := stream.RecvMsg(&msg); !errors.Is(err, io.EOF) {
			return fmt.Errorf("after CloseSend: want io.EOF, got %v (%q)", err, msg.GetValue())
		}
		return nil
	})
	c.run("concurrent-streams-50", func() error {
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				stream, err := client.NewStream(bg, &ttrpc.StreamDesc{StreamingClient: true, StreamingServer: true}, service, "BidiStream", nil)
				if err != nil {
					errs <- err
					return
				}
				for _, word := range []string{fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i)} {
					var msg wrapperspb.StringValue
					if err := stream.SendMsg(str(word)); err != nil {
						errs <- err
						return
					}
					if err := stream.RecvMsg(&msg); err != nil || msg.GetValue() != strings.ToUpper(word) {
						errs <- fmt.Errorf("stream %d: sent %q, got %q, %v", i, word, msg.GetValue(), err)
						return
					}
				}
				if err := stream.CloseSend(); err != nil {
					errs <- err
					return
				}
				var msg wrapperspb.StringValue
				if err := stream.RecvMsg(&msg); !errors.Is(err, io.EOF) {
					errs <- fmt.Errorf("stream %d after CloseSend: %v", i, err)
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			return err
		}
		return nil
	})
	c.run("stream-deadline-exceeded", func() error {
		ctx, cancel := context.WithTimeout(bg, 300*time.Millisecond)
		defer cancel()
		stream, err := client.NewStream(ctx, &ttrpc.StreamDesc{StreamingClient: true, StreamingServer: true}, service, "BidiStream", nil)
		if err != nil {
			return err
		}
		var msg wrapperspb.StringValue
		err = stream.RecvMsg(&msg)
		if errors.Is(err, context.DeadlineExceeded) {
			return nil
		}
		_, err = expectCode(err, codes.DeadlineExceeded)
		return err
	})
	// Last: Go's own server closes the connection when its answer is over the limit.
	c.run("response-over-limit", func() error {
		_, err := call(bg, client, "Size", strconv.Itoa(maxFrame-9))
		if _, err := expectCode(err, codes.ResourceExhausted); err != nil {
			return err
		}
		out, err := call(bg, client, "Echo", "still here")
		if err != nil || out != "still here" {
			return fmt.Errorf("the connection after an oversized answer: %q, %v", out, err)
		}
		return nil
	})
	if c.failed {
		return errors.New("some scenarios failed")
	}
	return nil
}

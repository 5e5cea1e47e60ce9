// The Go side of the ttrpc-ts interop tests against Go's ttrpc 1.1 (Debian bookworm's
// golang-github-containerd-ttrpc-dev, gogo/protobuf codec, unary calls only: streams came in 1.2).
// Built offline in GOPATH mode by scripts/ttrpc-go-peer.sh 1.1; the modes and the service are those
// of ../go-peer (ttrpcts.interop.Echo with google.protobuf.StringValue), without the streams.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/ttrpc"
	"github.com/gogo/protobuf/proto"
	"github.com/gogo/protobuf/types"
	"github.com/golang/protobuf/ptypes/any"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const service = "ttrpcts.interop.Echo"
const maxFrame = 4 << 20
const stringValueURL = "type.googleapis.com/google.protobuf.StringValue"

func str(s string) *types.StringValue { return &types.StringValue{Value: s} }

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

func unary(handle func(ctx context.Context, in string) (string, error)) ttrpc.Method {
	return func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
		var req types.StringValue
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

func failure(in string) error {
	codeText, message, _ := strings.Cut(in, ":")
	code, err := strconv.Atoi(codeText)
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "bad code %q", codeText)
	}
	value, err := proto.Marshal(str("detail: " + message))
	if err != nil {
		return err
	}
	return status.FromProto(&spb.Status{Code: int32(code), Message: message, Details: []*any.Any{{TypeUrl: stringValueURL, Value: value}}}).Err()
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
	server.Register(service, map[string]ttrpc.Method{
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
	var resp types.StringValue
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
		if len(details) != 1 || details[0].GetTypeUrl() != stringValueURL {
			return fmt.Errorf("details %v", details)
		}
		var detail types.StringValue
		if err := proto.Unmarshal(details[0].GetValue(), &detail); err != nil || detail.GetValue() != "detail: no such thing" {
			return fmt.Errorf("detail %q, %v", detail.GetValue(), err)
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
	requestAtLimit := func() int {
		n := maxFrame - 100
		n += maxFrame - lengthRequestFrame(n)
		n += maxFrame - lengthRequestFrame(n)
		return n
	}
	c.run("request-at-limit", func() error {
		n := requestAtLimit()
		if lengthRequestFrame(n) != maxFrame {
			return fmt.Errorf("could not size a request to %d", maxFrame)
		}
		out, err := call(bg, client, "Length", strings.Repeat("x", n))
		if err != nil || out != strconv.Itoa(n) {
			return fmt.Errorf("server counted %q of %d, %v", out, n, err)
		}
		return nil
	})
	// ttrpc 1.1 does not check what it sends: the server must refuse the frame and go on.
	c.run("request-over-limit", func() error {
		_, err := call(bg, client, "Length", strings.Repeat("x", requestAtLimit()+1))
		if _, err := expectCode(err, codes.ResourceExhausted); err != nil {
			return err
		}
		out, err := call(bg, client, "Echo", "still here")
		if err != nil || out != "still here" {
			return fmt.Errorf("the connection after an oversized request: %q, %v", out, err)
		}
		return nil
	})
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

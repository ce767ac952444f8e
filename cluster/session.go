package cluster

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// session is this instance's membership: an etcd lease, renewed by hand (KeepAliveOnce) so that
// the time of the last renewal etcd confirmed is known exactly, and the member key on it. The
// lease cannot expire before renewed + ttl: etcd counts the TTL from when it received the
// renewal, after it was sent; an etcd that stops (or loses its leader) extends every lease by
// its TTL when it serves again.
type session struct {
	cli     *clientv3.Client
	key     string
	ttl     time.Duration
	every   time.Duration // renewal interval
	timeout time.Duration // per request
	log     *slog.Logger

	mu         sync.Mutex
	lease      clientv3.LeaseID // 0: none
	renewed    time.Time        // send time of the last renewal (or grant) etcd confirmed
	registered bool             // the member key is on the lease
	record     []byte           // what to register with (the last member record)
	taken      bool             // another lease holds the member key (an instance of the same id)
	failing    bool             // the last renewal (or grant) failed: etcd is out of reach
}

// run keeps the lease alive and the member key on it until ctx ends.
func (s *session) run(ctx context.Context) {
	for ctx.Err() == nil {
		s.step(ctx)
		sleep(ctx, s.every)
	}
}

func (s *session) step(ctx context.Context) {
	s.mu.Lock()
	lease, registered := s.lease, s.registered
	s.mu.Unlock()
	rctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	sent := time.Now()
	switch {
	case lease == 0:
		resp, err := s.cli.Grant(rctx, int64((s.ttl+time.Second-1)/time.Second))
		s.mu.Lock()
		s.failing = err != nil
		if err == nil {
			s.lease, s.renewed = resp.ID, sent
		}
		s.mu.Unlock()
		if err != nil {
			return
		}
		s.register(rctx)
	case !registered:
		if s.renew(rctx, lease, sent) {
			s.register(rctx)
		}
	default:
		s.renew(rctx, lease, sent)
	}
}

// renew renews the lease once; a lease etcd no longer has is dropped (the next step asks for a
// new one).
func (s *session) renew(ctx context.Context, lease clientv3.LeaseID, sent time.Time) bool {
	resp, err := s.cli.KeepAliveOnce(ctx, lease)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing = err != nil
	switch {
	case err == nil && resp.TTL > 0:
		s.renewed = sent
		return true
	case errors.Is(err, rpctypes.ErrLeaseNotFound) || err == nil:
		s.log.Warn("fleet: etcd lease expired; joining again", "lease", int64(lease))
		s.lease, s.registered = 0, false
	}
	return false
}

// register puts the member key on the lease, unless another lease holds it.
func (s *session) register(ctx context.Context) {
	s.mu.Lock()
	lease, record := s.lease, s.record
	s.mu.Unlock()
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(s.key), "=", 0)).
		Then(clientv3.OpPut(s.key, string(record), clientv3.WithLease(lease))).
		Else(clientv3.OpGet(s.key)).Commit()
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if resp.Succeeded {
		s.registered = true
		if s.taken {
			s.log.Info("fleet: instance id free again; joined", "key", s.key)
		}
		s.taken = false
		return
	}
	if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 && clientv3.LeaseID(kvs[0].Lease) == lease {
		s.registered = true // registered by an earlier attempt whose answer was lost
		return
	}
	if !s.taken {
		s.log.Warn("fleet: another live instance has this instance id (or this proxy's previous run, until its lease expires); waiting",
			"key", s.key)
	}
	s.taken = true
}

// publish writes the member record on the lease (when registered) and keeps it for the next
// registration.
func (s *session) publish(ctx context.Context, record []byte) error {
	s.mu.Lock()
	s.record = record
	lease, registered := s.lease, s.registered
	s.mu.Unlock()
	if !registered {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err := s.cli.Put(rctx, s.key, string(record), clientv3.WithLease(lease))
	if errors.Is(err, rpctypes.ErrLeaseNotFound) {
		s.mu.Lock()
		if s.lease == lease {
			s.lease, s.registered = 0, false
		}
		s.mu.Unlock()
	}
	return err
}

// sessionState is the session as the balancer reads it.
type sessionState struct {
	lease      clientv3.LeaseID
	registered bool      // the member key is on the lease
	renewed    time.Time // the last renewal etcd confirmed was sent then
	taken      bool      // another instance holds the id
	failing    bool      // the last renewal failed
}

func (s *session) status() sessionState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sessionState{s.lease, s.registered, s.renewed, s.taken, s.failing}
}

// leave revokes the lease: the member key goes with it.
func (s *session) leave(ctx context.Context) {
	s.mu.Lock()
	lease := s.lease
	s.lease, s.registered = 0, false
	s.mu.Unlock()
	if lease == 0 {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, _ = s.cli.Revoke(rctx, lease)
}

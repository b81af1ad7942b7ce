/*
 * delayline: a layer-2 WAN emulator for the biternet lab (netem is not in this kernel).
 *
 * Bridges two interfaces (one lab link: the client side and the server side of the middle
 * namespace) with one AF_PACKET socket each. Every frame received on one side is held for the
 * link's one-way delay (plus optional jitter that never reorders: a frame is never due before
 * the one received ahead of it) and then sent out of the other side, or dropped at random with
 * the link's loss probability, drawn independently per direction.
 *
 *   delayline CONFIG IF_A IF_B
 *
 * CONFIG holds "key=value" words: delay_ms, loss_pct, jitter_ms (all may be fractional) and
 * rate_mbit (sizes the hold queue: rate x (delay + jitter + 100 ms), twice over for small
 * frames). It is read at start and again on SIGHUP; a new delay applies to frames received
 * after the reload. SIGUSR1 prints counters to stderr; SIGTERM/SIGINT print them and exit.
 *
 * Frames are received straight into the hold ring (recvmmsg) and sent from it (sendmmsg): no
 * copy in user space. A full ring drops the frame (counted as "overflow"), as a full router
 * queue would; the kernel's own drops at the socket are counted as "sock_drop".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SLOT 1536  /* largest Ethernet frame with a 1500-byte MTU (1514), rounded up */
#define BATCH 64
#define MIN_SLOTS 4096

struct conf {
  double delay_ms, loss_pct, jitter_ms, rate_mbit;
};

/* Frames received on one side, waiting to leave by the other. */
struct ring {
  unsigned char *buf;  /* slots * SLOT */
  uint64_t *due;       /* ns, CLOCK_MONOTONIC, never decreasing from tail to head */
  uint16_t *len;
  size_t slots, head, tail, count;
  uint64_t last_due;
  uint64_t frames, bytes, lost, overflow, oversize, sent, send_fail;
  uint64_t rng;
};

static volatile sig_atomic_t want_reload, want_stats, want_exit;
static void on_signal(int s) {
  if (s == SIGHUP) want_reload = 1;
  else if (s == SIGUSR1) want_stats = 1;
  else want_exit = 1;
}

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* xorshift64*: fast, good enough for drop decisions and jitter. */
static double rnd01(uint64_t *s) {
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return (double)((*s * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static int read_conf(const char *path, struct conf *c) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "delayline: cannot read %s: %s\n", path, strerror(errno));
    return -1;
  }
  struct conf n = *c;
  char key[64];
  double v;
  int rc = 0;
  while (fscanf(f, " %63[a-z_]=%lf", key, &v) == 2) {
    if (v < 0) { fprintf(stderr, "delayline: %s: %s must not be negative\n", path, key); rc = -1; }
    else if (!strcmp(key, "delay_ms")) n.delay_ms = v;
    else if (!strcmp(key, "loss_pct")) n.loss_pct = v;
    else if (!strcmp(key, "jitter_ms")) n.jitter_ms = v;
    else if (!strcmp(key, "rate_mbit")) n.rate_mbit = v;
    else { fprintf(stderr, "delayline: %s: unknown key '%s'\n", path, key); rc = -1; }
  }
  if (!feof(f)) { fprintf(stderr, "delayline: %s: expected key=value words\n", path); rc = -1; }
  fclose(f);
  if (rc == 0) *c = n;
  return rc;
}

static size_t slots_for(const struct conf *c) {
  double hold_s = (c->delay_ms + c->jitter_ms + 100) / 1000.0;
  double frames = c->rate_mbit * 1e6 / 8 / 1514 * hold_s * 2;
  size_t n = (size_t)frames + 1024;
  return n < MIN_SLOTS ? MIN_SLOTS : n;
}

/* Grows a ring to at least n slots, keeping its frames in order. */
static int ring_grow(struct ring *r, size_t n) {
  if (n <= r->slots) return 0;
  unsigned char *buf = malloc(n * SLOT);
  uint64_t *due = malloc(n * sizeof *due);
  uint16_t *len = malloc(n * sizeof *len);
  if (!buf || !due || !len) {
    free(buf); free(due); free(len);
    fprintf(stderr, "delayline: cannot grow the hold ring to %zu frames\n", n);
    return -1;
  }
  for (size_t i = 0; i < r->count; i++) {
    size_t j = (r->tail + i) % r->slots;
    memcpy(buf + i * SLOT, r->buf + j * SLOT, r->len[j]);
    due[i] = r->due[j];
    len[i] = r->len[j];
  }
  free(r->buf); free(r->due); free(r->len);
  r->buf = buf; r->due = due; r->len = len;
  r->slots = n; r->tail = 0; r->head = r->count % n;
  return 0;
}

static int open_side(const char *ifname) {
  int ifindex = (int)if_nametoindex(ifname);
  if (!ifindex) {
    fprintf(stderr, "delayline: no interface %s\n", ifname);
    return -1;
  }
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
  if (fd < 0) { perror("delayline: socket(AF_PACKET)"); return -1; }
  int one = 1, big = 16 << 20;
  struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = ifindex};
  struct packet_mreq mr = {.mr_ifindex = ifindex, .mr_type = PACKET_MR_PROMISC};
  if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0 ||
      setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) < 0 ||
      bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
    fprintf(stderr, "delayline: %s: %s\n", ifname, strerror(errno));
    close(fd);
    return -1;
  }
  /* Root may exceed rmem_max/wmem_max; a plain user gets what the sysctls allow. */
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) < 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big) < 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  /* The egress veth has no qdisc of its own worth passing through. */
  setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
  return fd;
}

/* Receives what is waiting on fd into r; stamps each frame's departure time. */
static void receive(int fd, struct ring *r, const struct conf *c) {
  static unsigned char scratch[BATCH][SLOT];
  struct mmsghdr m[BATCH];
  struct iovec iov[BATCH];
  for (int rounds = 0; rounds < 16; rounds++) {
    int n = BATCH;
    int to_ring = r->slots - r->count < (size_t)n ? (int)(r->slots - r->count) : n;
    for (int i = 0; i < n; i++) {
      iov[i].iov_base = i < to_ring ? r->buf + ((r->head + i) % r->slots) * SLOT : scratch[i];
      iov[i].iov_len = SLOT;
      memset(&m[i].msg_hdr, 0, sizeof m[i].msg_hdr);
      m[i].msg_hdr.msg_iov = &iov[i];
      m[i].msg_hdr.msg_iovlen = 1;
    }
    int got = recvmmsg(fd, m, n, MSG_DONTWAIT, NULL);
    if (got <= 0) return;
    uint64_t t = now_ns();
    double p = c->loss_pct / 100.0;
    uint64_t delay = (uint64_t)(c->delay_ms * 1e6);
    /* Kept frames are compacted towards head, so a dropped one frees its slot at once. */
    size_t w = r->head;
    for (int i = 0; i < got; i++) {
      unsigned len = m[i].msg_len;
      r->frames++;
      r->bytes += len;
      if (i >= to_ring) { r->overflow++; continue; }
      if (m[i].msg_hdr.msg_flags & MSG_TRUNC || len > SLOT) { r->oversize++; continue; }
      if (p > 0 && rnd01(&r->rng) < p) { r->lost++; continue; }
      unsigned char *src = iov[i].iov_base, *dst = r->buf + w * SLOT;
      if (src != dst) memcpy(dst, src, len);
      uint64_t due = t + delay;
      if (c->jitter_ms > 0) due += (uint64_t)(rnd01(&r->rng) * c->jitter_ms * 1e6);
      if (due < r->last_due) due = r->last_due; /* never reorder */
      r->last_due = due;
      r->due[w] = due;
      r->len[w] = (uint16_t)len;
      w = (w + 1) % r->slots;
      r->count++;
    }
    r->head = w;
    if (got < n) return;
  }
}

/* Sends the frames of r that are due by now out of fd. Returns 1 if the socket pushed back. */
static int transmit(int fd, struct ring *r, uint64_t now) {
  struct mmsghdr m[BATCH];
  struct iovec iov[BATCH];
  while (r->count > 0 && r->due[r->tail] <= now) {
    int n = 0;
    while (n < BATCH && (size_t)n < r->count) {
      size_t j = (r->tail + n) % r->slots;
      if (r->due[j] > now) break;
      iov[n].iov_base = r->buf + j * SLOT;
      iov[n].iov_len = r->len[j];
      memset(&m[n].msg_hdr, 0, sizeof m[n].msg_hdr);
      m[n].msg_hdr.msg_iov = &iov[n];
      m[n].msg_hdr.msg_iovlen = 1;
      n++;
    }
    int sent = sendmmsg(fd, m, n, MSG_DONTWAIT);
    if (sent < 0) {
      if (errno == EAGAIN || errno == ENOBUFS) return 1;
      /* Interface down (a cut link) or similar: the frame is lost, as on a dead wire. */
      sent = 1;
      r->send_fail++;
    } else {
      r->sent += sent;
    }
    r->tail = (r->tail + sent) % r->slots;
    r->count -= sent;
  }
  return 0;
}

static void stats(const char *a, const char *b, struct ring *r, int *fd) {
  for (int d = 0; d < 2; d++) {
    struct tpacket_stats st = {0};
    socklen_t l = sizeof st;
    getsockopt(fd[d], SOL_PACKET, PACKET_STATISTICS, &st, &l); /* resets the kernel's counts */
    fprintf(stderr,
            "delayline %s->%s: frames=%llu bytes=%llu sent=%llu lost=%llu overflow=%llu oversize=%llu "
            "send_fail=%llu sock_drop+=%u held=%zu slots=%zu\n",
            d ? b : a, d ? a : b, (unsigned long long)r[d].frames, (unsigned long long)r[d].bytes,
            (unsigned long long)r[d].sent, (unsigned long long)r[d].lost, (unsigned long long)r[d].overflow,
            (unsigned long long)r[d].oversize, (unsigned long long)r[d].send_fail, st.tp_drops, r[d].count,
            r[d].slots);
  }
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: delayline CONFIG IF_A IF_B\n");
    return 2;
  }
  struct conf c = {0};
  if (read_conf(argv[1], &c) < 0) return 2;
  int fd[2];
  if ((fd[0] = open_side(argv[2])) < 0 || (fd[1] = open_side(argv[3])) < 0) return 1;
  /* ring[0] holds frames received on IF_A (they leave by IF_B), ring[1] the other way. */
  struct ring r[2] = {{0}, {0}};
  uint64_t seed = now_ns() ^ ((uint64_t)getpid() << 32);
  for (int d = 0; d < 2; d++) {
    r[d].rng = seed + 0x9e3779b97f4a7c15ull * (d + 1);
    if (ring_grow(&r[d], slots_for(&c)) < 0) return 1;
  }
  prctl(PR_SET_TIMERSLACK, 1000UL); /* wake within 1 us of a frame's due time, not 50 */

  sigset_t block, none;
  sigemptyset(&block);
  sigaddset(&block, SIGHUP); sigaddset(&block, SIGUSR1); sigaddset(&block, SIGTERM); sigaddset(&block, SIGINT);
  sigprocmask(SIG_BLOCK, &block, &none);
  struct sigaction sa = {.sa_handler = on_signal};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGHUP, &sa, NULL); sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL); sigaction(SIGINT, &sa, NULL);
  fprintf(stderr, "delayline %s<->%s: delay %.3f ms, jitter %.3f ms, loss %.3f %%, %zu slots per direction\n",
          argv[2], argv[3], c.delay_ms, c.jitter_ms, c.loss_pct, r[0].slots);

  int blocked[2] = {0, 0};
  while (!want_exit) {
    uint64_t now = now_ns();
    for (int d = 0; d < 2; d++) blocked[d] = transmit(fd[1 - d], &r[d], now);
    struct pollfd p[2];
    for (int s = 0; s < 2; s++) {
      p[s].fd = fd[s];
      /* socket s receives ring[s] and sends ring[1-s] */
      p[s].events = POLLIN | (blocked[1 - s] ? POLLOUT : 0);
      p[s].revents = 0;
    }
    struct timespec ts, *tsp = NULL;
    uint64_t next = UINT64_MAX;
    for (int d = 0; d < 2; d++)
      if (r[d].count && !blocked[d] && r[d].due[r[d].tail] < next) next = r[d].due[r[d].tail];
    if (next != UINT64_MAX) {
      uint64_t wait = next > now ? next - now : 0;
      ts.tv_sec = (time_t)(wait / 1000000000ull);
      ts.tv_nsec = (long)(wait % 1000000000ull);
      tsp = &ts;
    }
    int n = ppoll(p, 2, tsp, &none);
    if (n < 0 && errno != EINTR) { perror("delayline: ppoll"); return 1; }
    if (want_reload) {
      want_reload = 0;
      struct conf nc = c;
      if (read_conf(argv[1], &nc) == 0) {
        c = nc;
        for (int d = 0; d < 2; d++) ring_grow(&r[d], slots_for(&c));
        fprintf(stderr, "delayline %s<->%s: now delay %.3f ms, jitter %.3f ms, loss %.3f %%, %zu slots\n",
                argv[2], argv[3], c.delay_ms, c.jitter_ms, c.loss_pct, r[0].slots);
      }
    }
    if (want_stats) { want_stats = 0; stats(argv[2], argv[3], r, fd); }
    if (n > 0)
      for (int s = 0; s < 2; s++)
        /* POLLERR: the interface went down or came back; the read clears it. */
        if (p[s].revents & (POLLIN | POLLERR)) receive(fd[s], &r[s], &c);
  }
  stats(argv[2], argv[3], r, fd);
  return 0;
}

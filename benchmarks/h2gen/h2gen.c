/*
 * h2gen: a unary gRPC load generator over HTTP/2 (nghttp2), for the service benchmarks.
 *
 * Why C: the benchmarks run the load generator on the same two cores as the server. A Python
 * gRPC client costs 300-600 us of CPU per call, a quarter of the machine at this service's peak,
 * so "80% of peak" measured the two together. This one costs a few tens of microseconds.
 *
 * It speaks gRPC over connections it is handed already open (file descriptors), so whoever
 * starts it decides which server process each connection lands on (benchmarks/connections.py).
 * Requests are pre-serialized gRPC messages (5-byte prefix and body) read from a file and sent
 * in turn. Two modes:
 *   closed loop: --per-connection N calls in flight on every connection, back to back;
 *   open loop:   --rate R calls a second on a fixed schedule over all connections; a call's
 *                latency counts from its scheduled instant, so a stall is not hidden by the
 *                generator waiting (no coordinated omission).
 * With --once every message is sent at most once (requests that must each be new, such as
 * Allocate's with their own idempotency key): the run ends early when they are used up, and says so.
 * Writes the latency of every call answered with grpc-status 0 (uint32 microseconds, native
 * byte order) to --latencies, and a JSON summary to stdout: calls sent, answered OK, other
 * answers by gRPC status code, calls lost with their connection, calls still unanswered at the
 * end (--timeout-ms after the last send), and how far behind its schedule it ever sent.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNECTIONS 256
#define GRPC_CODES 17
#define WINDOW (1 << 24)

typedef struct {
    const uint8_t *data; /* prefix and body, sent as they are */
    size_t len;
} message_t;

typedef struct connection {
    int fd;
    nghttp2_session *session;
    long in_flight;
    int dead;
} connection_t;

typedef struct {
    connection_t *connection;
    int64_t scheduled_ns;
    const message_t *message;
    size_t sent;
    int grpc_status; /* -1 until a grpc-status header arrives */
    int http_ok;
} call_t;

static struct {
    message_t *messages;
    size_t message_count, next_message;
    int once, exhausted;
    const char *path, *authority;
    char timeout_header[32];
    FILE *latencies;
    uint64_t sent, ok, by_status[GRPC_CODES], lost, unanswered;
    long in_flight;
    int64_t max_lag_ns;
} run;

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void die(const char *what) {
    fprintf(stderr, "h2gen: %s\n", what);
    exit(2);
}

static ssize_t send_bytes(nghttp2_session *session, const uint8_t *data, size_t length, int flags, void *user_data) {
    (void)session;
    (void)flags;
    connection_t *connection = user_data;
    ssize_t written = write(connection->fd, data, length);
    if (written < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? NGHTTP2_ERR_WOULDBLOCK : NGHTTP2_ERR_CALLBACK_FAILURE;
    return written;
}

static ssize_t read_body(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                         uint32_t *data_flags, nghttp2_data_source *source, void *user_data) {
    (void)session;
    (void)stream_id;
    (void)user_data;
    call_t *call = source->ptr;
    size_t left = call->message->len - call->sent;
    size_t n = left < length ? left : length;
    memcpy(buf, call->message->data + call->sent, n);
    call->sent += n;
    if (call->sent == call->message->len) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data) {
    (void)flags;
    (void)user_data;
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    call_t *call = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (call == NULL) return 0;
    if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
        call->http_ok = valuelen == 3 && memcmp(value, "200", 3) == 0;
    } else if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0) {
        char digits[8] = {0};
        memcpy(digits, value, valuelen < sizeof digits - 1 ? valuelen : sizeof digits - 1);
        call->grpc_status = atoi(digits);
    }
    return 0;
}

static int on_data(nghttp2_session *session, uint8_t flags, int32_t stream_id, const uint8_t *data, size_t len,
                   void *user_data) {
    /* The answer's body is not decoded: its status is the outcome, and decoding it would be load. */
    (void)session;
    (void)flags;
    (void)stream_id;
    (void)data;
    (void)len;
    (void)user_data;
    return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code, void *user_data) {
    connection_t *connection = user_data;
    call_t *call = nghttp2_session_get_stream_user_data(session, stream_id);
    if (call == NULL) return 0;
    if (error_code == NGHTTP2_NO_ERROR && call->http_ok && call->grpc_status == 0) {
        run.ok++;
        uint32_t micros = (uint32_t)((now_ns() - call->scheduled_ns) / 1000);
        fwrite(&micros, sizeof micros, 1, run.latencies);
    } else if (call->grpc_status >= 0 && call->grpc_status < GRPC_CODES) {
        run.by_status[call->grpc_status]++;
    } else {
        run.lost++; /* reset without a gRPC status */
    }
    connection->in_flight--;
    run.in_flight--;
    free(call);
    return 0;
}

static void submit(connection_t *connection, int64_t scheduled_ns) {
    if (run.once && run.next_message == run.message_count) {
        run.exhausted = 1;
        return;
    }
    call_t *call = calloc(1, sizeof *call);
    if (call == NULL) die("out of memory");
    call->connection = connection;
    call->scheduled_ns = scheduled_ns;
    call->message = &run.messages[run.next_message++ % run.message_count];
    call->grpc_status = -1;
#define HEADER(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE}
    nghttp2_nv headers[] = {
        HEADER(":method", "POST"),
        HEADER(":scheme", "http"),
        HEADER(":path", run.path),
        HEADER(":authority", run.authority),
        HEADER("content-type", "application/grpc"),
        HEADER("te", "trailers"),
        HEADER("grpc-timeout", run.timeout_header),
    };
#undef HEADER
    nghttp2_data_provider body = {.source = {.ptr = call}, .read_callback = read_body};
    if (nghttp2_submit_request(connection->session, NULL, headers, sizeof headers / sizeof headers[0], &body, call) < 0)
        die("could not submit a request");
    connection->in_flight++;
    run.in_flight++;
    run.sent++;
    int64_t lag = now_ns() - scheduled_ns;
    if (lag > run.max_lag_ns) run.max_lag_ns = lag;
}

static void drop(connection_t *connection) {
    /* The connection failed: its calls will never be answered. */
    if (connection->dead) return;
    connection->dead = 1;
    run.lost += (uint64_t)connection->in_flight;
    run.in_flight -= connection->in_flight;
    connection->in_flight = 0;
}

static void read_messages(const char *path) {
    FILE *file = fopen(path, "rb");
    if (file == NULL) die("cannot open the messages file");
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    rewind(file);
    uint8_t *data = malloc(size > 0 ? (size_t)size : 1);
    if (data == NULL || (size > 0 && fread(data, 1, (size_t)size, file) != (size_t)size)) die("cannot read the messages file");
    fclose(file);
    size_t capacity = 64;
    run.messages = malloc(capacity * sizeof *run.messages);
    for (size_t at = 0; at < (size_t)size;) {
        if ((size_t)size - at < 5) die("messages file: truncated prefix");
        size_t len = 5 + (((size_t)data[at + 1] << 24) | ((size_t)data[at + 2] << 16) | ((size_t)data[at + 3] << 8) | data[at + 4]);
        if (at + len > (size_t)size) die("messages file: truncated message");
        if (run.message_count == capacity) run.messages = realloc(run.messages, (capacity *= 2) * sizeof *run.messages);
        run.messages[run.message_count++] = (message_t){data + at, len};
        at += len;
    }
    if (run.message_count == 0) die("messages file: no messages");
}

static void usage(void) {
    fputs("usage: h2gen --fd N [--fd N ...] --path /pkg.Service/Method --authority HOST:PORT --messages FILE\n"
          "             --seconds S (--per-connection N | --rate R) [--timeout-ms T] [--once] --latencies FILE\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv) {
    connection_t connections[MAX_CONNECTIONS];
    int connection_count = 0;
    double seconds = 0, rate = 0;
    long per_connection = 0, timeout_ms = 10000;
    const char *messages_path = NULL, *latencies_path = NULL;
    static const struct option options[] = {
        {"fd", required_argument, 0, 'f'},       {"path", required_argument, 0, 'p'},
        {"authority", required_argument, 0, 'a'}, {"messages", required_argument, 0, 'm'},
        {"seconds", required_argument, 0, 's'},   {"per-connection", required_argument, 0, 'c'},
        {"rate", required_argument, 0, 'r'},      {"timeout-ms", required_argument, 0, 't'},
        {"latencies", required_argument, 0, 'l'}, {"once", no_argument, 0, 'o'},
        {0, 0, 0, 0},
    };
    for (int option; (option = getopt_long(argc, argv, "", options, NULL)) != -1;) {
        switch (option) {
        case 'f':
            if (connection_count == MAX_CONNECTIONS) die("too many connections");
            connections[connection_count++] = (connection_t){.fd = atoi(optarg)};
            break;
        case 'p': run.path = optarg; break;
        case 'a': run.authority = optarg; break;
        case 'm': messages_path = optarg; break;
        case 's': seconds = atof(optarg); break;
        case 'c': per_connection = atol(optarg); break;
        case 'r': rate = atof(optarg); break;
        case 't': timeout_ms = atol(optarg); break;
        case 'l': latencies_path = optarg; break;
        case 'o': run.once = 1; break;
        default: usage();
        }
    }
    if (connection_count == 0 || !run.path || !run.authority || !messages_path || !latencies_path || seconds <= 0 ||
        (per_connection > 0) == (rate > 0) || timeout_ms <= 0)
        usage();
    read_messages(messages_path);
    run.latencies = fopen(latencies_path, "wb");
    if (run.latencies == NULL) die("cannot write the latencies file");
    snprintf(run.timeout_header, sizeof run.timeout_header, "%ldm", timeout_ms);

    nghttp2_session_callbacks *callbacks;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_send_callback(callbacks, send_bytes);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_stream_close);
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, WINDOW},
    };
    for (int i = 0; i < connection_count; i++) {
        connection_t *connection = &connections[i];
        int one = 1;
        fcntl(connection->fd, F_SETFL, fcntl(connection->fd, F_GETFL) | O_NONBLOCK);
        setsockopt(connection->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (nghttp2_session_client_new(&connection->session, callbacks, connection) != 0) die("nghttp2 session");
        nghttp2_submit_settings(connection->session, NGHTTP2_FLAG_NONE, settings, 2);
        nghttp2_session_set_local_window_size(connection->session, NGHTTP2_FLAG_NONE, 0, WINDOW);
    }

    const int64_t start = now_ns();
    const int64_t deadline = start + (int64_t)(seconds * 1e9);
    const int64_t interval = rate > 0 ? (int64_t)(1e9 / rate) : 0;
    int64_t give_up = deadline + timeout_ms * 1000000;
    uint64_t scheduled = 0; /* open loop: calls scheduled so far */
    int next_connection = 0;
    static uint8_t buffer[1 << 16];
    struct pollfd polls[MAX_CONNECTIONS];
    for (;;) {
        int64_t now = now_ns();
        int live = 0;
        for (int i = 0; i < connection_count; i++) live += !connections[i].dead;
        if (live == 0) break;
        if (rate > 0) {
            for (int64_t at; !run.exhausted && (at = start + (int64_t)scheduled * interval) <= now && at < deadline;
                 scheduled++) {
                while (connections[next_connection].dead) next_connection = (next_connection + 1) % connection_count;
                submit(&connections[next_connection], at);
                next_connection = (next_connection + 1) % connection_count;
            }
        } else if (now < deadline) {
            for (int i = 0; i < connection_count; i++)
                while (!connections[i].dead && !run.exhausted && connections[i].in_flight < per_connection)
                    submit(&connections[i], now);
        }
        for (int i = 0; i < connection_count; i++)
            if (!connections[i].dead && nghttp2_session_send(connections[i].session) != 0) drop(&connections[i]);
        if ((now >= deadline || run.exhausted) && run.in_flight == 0) break;
        if (now >= give_up) break;

        int64_t wake = give_up;
        if (now < deadline) wake = rate > 0 ? start + (int64_t)scheduled * interval : deadline;
        if (wake > now + 50000000) wake = now + 50000000;
        struct timespec wait = {.tv_sec = (wake - now) / 1000000000, .tv_nsec = (wake - now) % 1000000000};
        if (wake < now) wait = (struct timespec){0, 0};
        for (int i = 0; i < connection_count; i++) {
            polls[i].fd = connections[i].dead ? -1 : connections[i].fd;
            polls[i].events = POLLIN;
            if (!connections[i].dead && nghttp2_session_want_write(connections[i].session)) polls[i].events |= POLLOUT;
            polls[i].revents = 0;
        }
        if (ppoll(polls, (nfds_t)connection_count, &wait, NULL) < 0 && errno != EINTR) die("poll");
        for (int i = 0; i < connection_count; i++) {
            connection_t *connection = &connections[i];
            if (connection->dead || polls[i].revents == 0) continue;
            if (polls[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                for (;;) {
                    ssize_t n = read(connection->fd, buffer, sizeof buffer);
                    if (n > 0) {
                        if (nghttp2_session_mem_recv(connection->session, buffer, (size_t)n) < 0) {
                            drop(connection);
                            break;
                        }
                        continue;
                    }
                    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
                    if (n < 0 && errno == EINTR) continue;
                    drop(connection); /* closed by the server, or failed */
                    break;
                }
            }
        }
    }
    run.unanswered = (uint64_t)run.in_flight;
    fclose(run.latencies);
    printf("{\"sent\": %llu, \"ok\": %llu, \"lost\": %llu, \"unanswered\": %llu, \"seconds\": %.3f, "
           "\"max_send_lag_us\": %lld, \"exhausted\": %s, \"statuses\": {",
           (unsigned long long)run.sent, (unsigned long long)run.ok, (unsigned long long)run.lost,
           (unsigned long long)run.unanswered, (double)(now_ns() - start) / 1e9, (long long)(run.max_lag_ns / 1000),
           run.exhausted ? "true" : "false");
    const char *separator = "";
    for (int code = 0; code < GRPC_CODES; code++) {
        if (run.by_status[code] == 0) continue;
        printf("%s\"%d\": %llu", separator, code, (unsigned long long)run.by_status[code]);
        separator = ", ";
    }
    printf("}}\n");
    return 0;
}

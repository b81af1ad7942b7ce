package dev.biternet.server.cluster;

import com.google.protobuf.ByteString;
import dev.biternet.server.session.PieceAllocator;
import dev.biternet.server.session.SessionId;
import dev.biternet.server.session.SharedSessions;
import io.lettuce.core.SetArgs;
import java.util.HexFormat;
import java.util.Map;

/**
 * The cluster's sessions in Redis: each session's record (a hash beside its allocator's keys,
 * expiring with them) and join keys naming sessions, so that an Attach or a joining open that
 * reaches any node finds the session another node opened.
 */
public final class RedisSessions implements SharedSessions {
    /** The suffix of a session's record key. */
    static final String RECORD = "s";
    private static final HexFormat HEX = HexFormat.of();
    private final ClusterStore store;

    public RedisSessions(ClusterStore store) {
        this.store = store;
    }

    @Override
    public java.util.concurrent.Executor opening() {
        return store.opening();
    }

    @Override
    public PieceAllocator allocator(SessionId id, int pieceCount, PieceAllocator.Listener listener) {
        return new RedisPieceAllocator(store, HEX.formatHex(id.bytes().toByteArray()), pieceCount, listener);
    }

    @Override
    public void publish(Shared s) {
        String key = RedisPieceAllocator.key(HEX.formatHex(s.id().bytes().toByteArray()), RECORD);
        store.call(r -> {
            r.hset(key, Map.of("path", s.path(), "secret", HEX.formatHex(s.secret().toByteArray()),
                    "size", Long.toString(s.size()), "mtime", Long.toString(s.mtimeNanos()),
                    "piece_size", Integer.toString(s.pieceSize()), "tag", Long.toString(s.tag())));
            return r.pexpire(key, ClusterStore.SESSION_TTL.toMillis());
        });
    }

    @Override
    public Shared find(ByteString id) {
        if (id.size() != SessionId.BYTES) {
            return null;
        }
        Map<String, String> r = store.call(c -> c.hgetall(RedisPieceAllocator.key(HEX.formatHex(id.toByteArray()), RECORD)));
        if (r == null || r.isEmpty()) {
            return null;
        }
        return new Shared(new SessionId(id), ByteString.copyFrom(HEX.parseHex(r.get("secret"))), r.get("path"),
                Long.parseLong(r.get("size")), Long.parseLong(r.get("mtime")), Integer.parseInt(r.get("piece_size")),
                Long.parseLong(r.get("tag")));
    }

    @Override
    public ByteString joined(ByteString joinKey) {
        String id = store.call(r -> r.get(joinKey(joinKey)));
        return id == null ? null : ByteString.copyFrom(HEX.parseHex(id));
    }

    @Override
    public ByteString join(ByteString joinKey, ByteString id) {
        String key = joinKey(joinKey);
        String mine = HEX.formatHex(id.toByteArray());
        if ("OK".equals(store.call(r -> r.set(key, mine, SetArgs.Builder.nx().px(ClusterStore.SESSION_TTL.toMillis()))))) {
            return id;
        }
        ByteString winner = joined(joinKey);
        return winner != null ? winner : id;
    }

    /** Join keys are secrets of the client's (as unguessable as an attach secret): stored hashed. */
    private static String joinKey(ByteString key) {
        return "bn:join:" + HEX.formatHex(dev.biternet.common.piece.Digests.sha256().digest(key.toByteArray()));
    }
}

package dev.biternet.lab;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;

/**
 * One plain TCP flow, the reference "link alone" of the lab tests (what curl from nginx is in
 * compare.sh): {@code send ADDR PORT} accepts connections one after another and writes to each
 * until the peer closes it; {@code fetch ADDR PORT FROM_ADDR MAX_BYTES MAX_SECONDS} connects
 * from FROM_ADDR (so the client namespace's policy routing picks the link), reads until it has
 * MAX_BYTES or MAX_SECONDS have passed, and prints "BYTES SECONDS", timed from connect to the
 * last byte. Run by {@link Lab} as its own process inside a namespace; needs only the JDK.
 */
final class TcpFlow {
    private TcpFlow() {
    }

    public static void main(String[] args) throws IOException {
        byte[] buf = new byte[1 << 16];
        if (args[0].equals("send")) {
            try (ServerSocket ss = new ServerSocket()) {
                ss.bind(new InetSocketAddress(InetAddress.getByName(args[1]), Integer.parseInt(args[2])));
                System.out.println("listening");
                System.out.flush();
                while (true) {
                    try (Socket s = ss.accept(); OutputStream out = s.getOutputStream()) {
                        while (true) {
                            out.write(buf);
                        }
                    } catch (IOException peerClosed) {
                        // the fetch side had enough: next one
                    }
                }
            }
        }
        long maxBytes = Long.parseLong(args[4]);
        long deadline = (long) (Double.parseDouble(args[5]) * 1e9);
        try (Socket s = new Socket()) {
            s.bind(new InetSocketAddress(InetAddress.getByName(args[3]), 0));
            long start = System.nanoTime();
            s.connect(new InetSocketAddress(InetAddress.getByName(args[1]), Integer.parseInt(args[2])), 10_000);
            s.setSoTimeout(10_000);
            InputStream in = s.getInputStream();
            long got = 0;
            long last = start;
            while (got < maxBytes && last - start < deadline) {
                int n = in.read(buf, 0, (int) Math.min(buf.length, maxBytes - got));
                if (n < 0) {
                    break;
                }
                got += n;
                last = System.nanoTime();
            }
            System.out.println(got + " " + (last - start) / 1e9);
        }
    }
}

//! Packet templates for the network outputs: every header field is written once, at
//! configuration; per frame the output thread patches only the sequence byte (and the DDP push
//! flag) and copies the slot data in.
//!
//! The layouts are those of the Python sans-IO codecs (`protocols/sacn.py`, `artnet.py`,
//! `ddp.py`), which document every field and are the oracle of the tests: a patched template
//! must equal what those builders produce for the same field values.

/// sACN (E1.31) data packet: header size; slot `k` (1-based) is at `SACN_DATA_OFFSET + k - 1`.
pub const SACN_DATA_OFFSET: usize = 126;
pub const SACN_PRIORITY_OFFSET: usize = 108;
pub const SACN_SEQUENCE_OFFSET: usize = 111;
pub const SACN_OPTIONS_OFFSET: usize = 112;
pub const SACN_SYNC_PACKET_SIZE: usize = 49;
pub const SACN_SYNC_SEQUENCE_OFFSET: usize = 44;
/// Options bit 6: the source stops sending this universe (E1.31 §6.2.6).
pub const SACN_OPTION_STREAM_TERMINATED: u8 = 0x40;
pub const SACN_PORT: u16 = 5568;
pub const SACN_MAX_UNIVERSE: u32 = 63_999;
pub const SACN_MAX_PRIORITY: u8 = 200;
/// Source name field: 63 UTF-8 bytes + NUL.
pub const SACN_SOURCE_NAME_MAX: usize = 63;

pub const ARTNET_DATA_OFFSET: usize = 18;
pub const ARTNET_SEQUENCE_OFFSET: usize = 12;
pub const ARTNET_SYNC_SIZE: usize = 14;
pub const ARTNET_PORT: u16 = 6454;
pub const ARTNET_MAX_PORT_ADDRESS: u32 = 0x7FFF;

pub const DDP_HEADER_SIZE: usize = 10;
pub const DDP_FLAGS_OFFSET: usize = 0;
pub const DDP_SEQUENCE_OFFSET: usize = 1;
pub const DDP_FLAG_VERSION1: u8 = 0x40;
pub const DDP_FLAG_PUSH: u8 = 0x01;
/// Data type "RGB, 8 bits per element".
pub const DDP_DATA_TYPE_RGB8: u8 = 0x0B;
/// Destination id 1: the default output device.
pub const DDP_DESTINATION_DISPLAY: u8 = 1;
/// Data bytes per DDP packet: 480 RGB (or 360 RGBW) pixels, so a packet fits a 1500-byte MTU.
pub const DDP_MAX_DATA: usize = 1440;
pub const DDP_PORT: u16 = 4048;

const ACN_IDENTIFIER: &[u8; 12] = b"ASC-E1.17\0\0\0";
const VECTOR_ROOT_E131_DATA: u32 = 0x0000_0004;
const VECTOR_ROOT_E131_EXTENDED: u32 = 0x0000_0008;
const VECTOR_E131_DATA_PACKET: u32 = 0x0000_0002;
const VECTOR_E131_EXTENDED_SYNCHRONIZATION: u32 = 0x0000_0001;
const VECTOR_DMP_SET_PROPERTY: u8 = 0x02;
const DMP_ADDRESS_DATA_TYPE: u8 = 0xA1;

const ARTNET_ID: &[u8; 8] = b"Art-Net\0";
const ARTNET_OP_DMX: u16 = 0x5000;
const ARTNET_OP_SYNC: u16 = 0x5200;
const ARTNET_PROTOCOL_VERSION: u16 = 14;

/// ACN "Flags & Length" word: flags 0x7 in the top nibble, the PDU length below.
fn flags_length(length: usize) -> [u8; 2] {
    debug_assert!(length < 0x1000);
    (0x7000 | length as u16).to_be_bytes()
}

/// Fixed fields of every sACN data packet of one output.
#[derive(Debug, Clone, Copy)]
pub struct SacnSource<'a> {
    pub cid: &'a [u8; 16],
    /// At most [`SACN_SOURCE_NAME_MAX`] UTF-8 bytes, no NUL (checked by the output config).
    pub source_name: &'a str,
    pub priority: u8,
    /// 0 = not synchronized, else the synchronization universe.
    pub sync_address: u16,
}

fn acn_root(buf: &mut Vec<u8>, cid: &[u8; 16], vector: u32, total: usize) {
    buf.extend_from_slice(&0x0010u16.to_be_bytes()); // preamble size
    buf.extend_from_slice(&0x0000u16.to_be_bytes()); // post-amble size
    buf.extend_from_slice(ACN_IDENTIFIER);
    buf.extend_from_slice(&flags_length(total - 16));
    buf.extend_from_slice(&vector.to_be_bytes());
    buf.extend_from_slice(cid);
}

/// An E1.31 data packet for `universe` with `slots` slots (sequence 0, options 0, START code
/// 0, all slots 0): `126 + slots` bytes, every length field filled in.
pub fn sacn_data_template(source: &SacnSource<'_>, universe: u16, slots: usize) -> Vec<u8> {
    debug_assert!(slots <= 512);
    let total = SACN_DATA_OFFSET + slots;
    let mut buf = Vec::with_capacity(total);
    acn_root(&mut buf, source.cid, VECTOR_ROOT_E131_DATA, total);
    buf.extend_from_slice(&flags_length(total - 38));
    buf.extend_from_slice(&VECTOR_E131_DATA_PACKET.to_be_bytes());
    let mut name = [0u8; 64];
    let raw = source.source_name.as_bytes();
    let n = raw.len().min(SACN_SOURCE_NAME_MAX);
    name[..n].copy_from_slice(&raw[..n]);
    buf.extend_from_slice(&name);
    buf.push(source.priority);
    buf.extend_from_slice(&source.sync_address.to_be_bytes());
    buf.push(0); // sequence
    buf.push(0); // options
    buf.extend_from_slice(&universe.to_be_bytes());
    buf.extend_from_slice(&flags_length(total - 115));
    buf.push(VECTOR_DMP_SET_PROPERTY);
    buf.push(DMP_ADDRESS_DATA_TYPE);
    buf.extend_from_slice(&0x0000u16.to_be_bytes()); // first property address
    buf.extend_from_slice(&0x0001u16.to_be_bytes()); // address increment
    buf.extend_from_slice(&(1 + slots as u16).to_be_bytes()); // property value count
    buf.push(0); // START code
    buf.resize(total, 0);
    debug_assert_eq!(buf.len(), total);
    buf
}

/// An E1.31 universe synchronization packet (49 bytes) with sequence 0.
pub fn sacn_sync_template(cid: &[u8; 16], sync_address: u16) -> Vec<u8> {
    let total = SACN_SYNC_PACKET_SIZE;
    let mut buf = Vec::with_capacity(total);
    acn_root(&mut buf, cid, VECTOR_ROOT_E131_EXTENDED, total);
    buf.extend_from_slice(&flags_length(total - 38));
    buf.extend_from_slice(&VECTOR_E131_EXTENDED_SYNCHRONIZATION.to_be_bytes());
    buf.push(0); // sequence
    buf.extend_from_slice(&sync_address.to_be_bytes());
    buf.extend_from_slice(&[0, 0]); // reserved
    debug_assert_eq!(buf.len(), total);
    buf
}

/// Even ArtDmx data length for `slots` slots (an odd count is padded with one 0 slot).
pub fn artnet_length(slots: usize) -> usize {
    slots + (slots & 1)
}

fn artnet_header(buf: &mut Vec<u8>, opcode: u16) {
    buf.extend_from_slice(ARTNET_ID);
    buf.extend_from_slice(&opcode.to_le_bytes());
    buf.extend_from_slice(&ARTNET_PROTOCOL_VERSION.to_be_bytes());
}

/// An ArtDmx packet for the 15-bit `port_address` with `slots` slots (sequence 0, physical 0,
/// all slots 0): `18 + even(slots)` bytes.
pub fn artnet_dmx_template(port_address: u16, slots: usize) -> Vec<u8> {
    debug_assert!((1..=512).contains(&slots) && u32::from(port_address) <= 0x7FFF);
    let length = artnet_length(slots);
    let mut buf = Vec::with_capacity(ARTNET_DATA_OFFSET + length);
    artnet_header(&mut buf, ARTNET_OP_DMX);
    buf.push(0); // sequence
    buf.push(0); // physical
    buf.push((port_address & 0xFF) as u8); // SubUni
    buf.push((port_address >> 8) as u8); // Net
    buf.extend_from_slice(&(length as u16).to_be_bytes());
    buf.resize(ARTNET_DATA_OFFSET + length, 0);
    buf
}

/// ArtSync (14 bytes; Aux1 = Aux2 = 0).
pub fn artnet_sync_packet() -> Vec<u8> {
    let mut buf = Vec::with_capacity(ARTNET_SYNC_SIZE);
    artnet_header(&mut buf, ARTNET_OP_SYNC);
    buf.extend_from_slice(&[0, 0]);
    buf
}

/// A DDP packet (10-byte header, RGB 8-bit, destination 1) for `length` bytes at byte `offset`
/// of the device buffer, sequence 0, all data 0; `push` sets the P flag.
pub fn ddp_template(offset: u32, length: usize, push: bool) -> Vec<u8> {
    debug_assert!(length <= DDP_MAX_DATA);
    let mut buf = Vec::with_capacity(DDP_HEADER_SIZE + length);
    buf.push(DDP_FLAG_VERSION1 | if push { DDP_FLAG_PUSH } else { 0 });
    buf.push(0); // sequence
    buf.push(DDP_DATA_TYPE_RGB8);
    buf.push(DDP_DESTINATION_DISPLAY);
    buf.extend_from_slice(&offset.to_be_bytes());
    buf.extend_from_slice(&(length as u16).to_be_bytes());
    buf.resize(DDP_HEADER_SIZE + length, 0);
    buf
}

/// The sACN sequence after `seq`: 0..255, wrapping 255 → 0.
pub fn sacn_next_sequence(seq: u8) -> u8 {
    seq.wrapping_add(1)
}

/// The ArtDmx sequence after `seq`: 1..255, wrapping 255 → 1 (0 means "sequencing off").
pub fn artnet_next_sequence(seq: u8) -> u8 {
    if seq == u8::MAX {
        1
    } else {
        seq + 1
    }
}

/// The DDP sequence after `seq`: 1..15, wrapping 15 → 1 (0 means "not used").
pub fn ddp_next_sequence(seq: u8) -> u8 {
    if seq >= 15 {
        1
    } else {
        seq + 1
    }
}

/// sACN multicast group of a universe: 239.255.hi.lo.
pub fn sacn_multicast_group(universe: u16) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::new(239, 255, (universe >> 8) as u8, (universe & 0xFF) as u8)
}

#[cfg(test)]
mod tests {
    //! Every template, patched the way the output thread patches it, is compared with a packet
    //! written out field by field from the specification tables (independently of the
    //! template code), for a spread of slot counts and numbers.
    use super::*;

    fn be16(v: u16) -> [u8; 2] {
        v.to_be_bytes()
    }

    /// E1.31 data packet written field by field (reference for the template).
    #[allow(clippy::too_many_arguments)]
    fn sacn_full(
        cid: &[u8; 16],
        name: &str,
        priority: u8,
        sync: u16,
        seq: u8,
        options: u8,
        universe: u16,
        data: &[u8],
    ) -> Vec<u8> {
        let n = data.len();
        let mut p = vec![0x00, 0x10, 0x00, 0x00];
        p.extend_from_slice(b"ASC-E1.17\0\0\0");
        p.extend_from_slice(&be16(0x7000 | (110 + n) as u16));
        p.extend_from_slice(&[0, 0, 0, 4]);
        p.extend_from_slice(cid);
        p.extend_from_slice(&be16(0x7000 | (88 + n) as u16));
        p.extend_from_slice(&[0, 0, 0, 2]);
        let mut field = name.as_bytes().to_vec();
        field.resize(64, 0);
        p.extend_from_slice(&field);
        p.push(priority);
        p.extend_from_slice(&be16(sync));
        p.push(seq);
        p.push(options);
        p.extend_from_slice(&be16(universe));
        p.extend_from_slice(&be16(0x7000 | (11 + n) as u16));
        p.extend_from_slice(&[0x02, 0xA1, 0x00, 0x00, 0x00, 0x01]);
        p.extend_from_slice(&be16(1 + n as u16));
        p.push(0x00);
        p.extend_from_slice(data);
        p
    }

    fn pattern(n: usize, salt: u8) -> Vec<u8> {
        (0..n)
            .map(|i| (i as u8).wrapping_mul(7).wrapping_add(salt))
            .collect()
    }

    #[test]
    fn sacn_data_template_patched_equals_full_packet() {
        let cid: [u8; 16] = *b"0123456789abcdef";
        for (slots, universe, seq) in [
            (0usize, 1u16, 0u8),
            (1, 2, 1),
            (3, 255, 17),
            (24, 256, 128),
            (510, 4000, 254),
            (511, 63999, 255),
            (512, 300, 9),
        ] {
            let source = SacnSource {
                cid: &cid,
                source_name: "Trocadero façade",
                priority: 150,
                sync_address: 7,
            };
            let mut t = sacn_data_template(&source, universe, slots);
            let data = pattern(slots, universe as u8);
            t[SACN_SEQUENCE_OFFSET] = seq;
            t[SACN_DATA_OFFSET..].copy_from_slice(&data);
            let full = sacn_full(&cid, "Trocadero façade", 150, 7, seq, 0, universe, &data);
            assert_eq!(t, full, "slots {slots}");
            assert_eq!(t.len(), 126 + slots);
            // Length words (the spec's worked example: 638 bytes → 622, 600, 523).
            if slots == 512 {
                assert_eq!(&t[16..18], &[0x72, 0x6E]);
                assert_eq!(&t[38..40], &[0x72, 0x58]);
                assert_eq!(&t[115..117], &[0x72, 0x0B]);
            }
            t[SACN_OPTIONS_OFFSET] |= SACN_OPTION_STREAM_TERMINATED;
            let term = sacn_full(&cid, "Trocadero façade", 150, 7, seq, 0x40, universe, &data);
            assert_eq!(t, term);
        }
    }

    #[test]
    fn sacn_source_name_is_nul_padded_at_64_bytes() {
        let cid = [9u8; 16];
        let name = "x".repeat(63);
        let source = SacnSource {
            cid: &cid,
            source_name: &name,
            priority: 100,
            sync_address: 0,
        };
        let t = sacn_data_template(&source, 1, 512);
        assert_eq!(&t[44..107], name.as_bytes());
        assert_eq!(t[107], 0);
        assert_eq!(t[108], 100);
    }

    #[test]
    fn sacn_sync_template_patched_equals_full_packet() {
        let cid = [0xA5u8; 16];
        let mut t = sacn_sync_template(&cid, 4321);
        t[SACN_SYNC_SEQUENCE_OFFSET] = 200;
        let mut full = vec![0x00, 0x10, 0x00, 0x00];
        full.extend_from_slice(b"ASC-E1.17\0\0\0");
        full.extend_from_slice(&[0x70, 0x21, 0, 0, 0, 8]);
        full.extend_from_slice(&cid);
        full.extend_from_slice(&[0x70, 0x0B, 0, 0, 0, 1, 200]);
        full.extend_from_slice(&be16(4321));
        full.extend_from_slice(&[0, 0]);
        assert_eq!(t, full);
        assert_eq!(t.len(), 49);
    }

    #[test]
    fn artnet_dmx_template_patched_equals_full_packet() {
        for (slots, pa, seq) in [
            (1usize, 0u16, 1u8),
            (2, 0x0423, 2),
            (5, 0x0001, 255),
            (511, 0x7FFF, 100),
            (512, 0x1234, 37),
        ] {
            let mut t = artnet_dmx_template(pa, slots);
            let data = pattern(slots, 3);
            t[ARTNET_SEQUENCE_OFFSET] = seq;
            t[ARTNET_DATA_OFFSET..ARTNET_DATA_OFFSET + slots].copy_from_slice(&data);
            let len = slots + slots % 2;
            let mut full = b"Art-Net\0".to_vec();
            full.extend_from_slice(&[0x00, 0x50, 0x00, 0x0E, seq, 0]);
            full.push((pa & 0xFF) as u8);
            full.push((pa >> 8) as u8);
            full.extend_from_slice(&be16(len as u16));
            full.extend_from_slice(&data);
            full.resize(18 + len, 0); // the pad slot of an odd count is 0
            assert_eq!(t, full, "slots {slots}");
        }
        // OLA's vector: Port-Address 0x0423 → SubUni 0x23, Net 0x04.
        let t = artnet_dmx_template(0x0423, 5);
        assert_eq!((t[14], t[15]), (0x23, 0x04));
        assert_eq!(&t[16..18], &[0, 6]);
    }

    #[test]
    fn artsync_is_14_bytes() {
        assert_eq!(
            artnet_sync_packet(),
            b"Art-Net\0\x00\x52\x00\x0e\x00\x00".to_vec()
        );
    }

    #[test]
    fn ddp_template_patched_equals_full_packet() {
        for (offset, len, push, seq) in [
            (0u32, 1440usize, false, 1u8),
            (1440, 1440, false, 15),
            (2880, 7, true, 3),
            (0x0102_0304, 0, true, 1),
        ] {
            let mut t = ddp_template(offset, len, push);
            let data = pattern(len, 11);
            t[DDP_SEQUENCE_OFFSET] = seq;
            t[DDP_HEADER_SIZE..].copy_from_slice(&data);
            let mut full = vec![if push { 0x41 } else { 0x40 }, seq, 0x0B, 0x01];
            full.extend_from_slice(&offset.to_be_bytes());
            full.extend_from_slice(&be16(len as u16));
            full.extend_from_slice(&data);
            assert_eq!(t, full);
        }
    }

    #[test]
    fn sequence_wrap_rules() {
        assert_eq!(sacn_next_sequence(0), 1);
        assert_eq!(sacn_next_sequence(254), 255);
        assert_eq!(sacn_next_sequence(255), 0);
        assert_eq!(artnet_next_sequence(1), 2);
        assert_eq!(artnet_next_sequence(254), 255);
        assert_eq!(artnet_next_sequence(255), 1);
        assert_eq!(ddp_next_sequence(1), 2);
        assert_eq!(ddp_next_sequence(14), 15);
        assert_eq!(ddp_next_sequence(15), 1);
        // A full cycle visits every allowed value exactly once.
        let mut s = 1u8;
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..255 {
            seen.insert(s);
            s = artnet_next_sequence(s);
        }
        assert_eq!(seen.len(), 255);
        assert!(!seen.contains(&0));
    }

    #[test]
    fn multicast_groups() {
        assert_eq!(sacn_multicast_group(1).to_string(), "239.255.0.1");
        assert_eq!(sacn_multicast_group(256).to_string(), "239.255.1.0");
        assert_eq!(sacn_multicast_group(63999).to_string(), "239.255.249.255");
    }
}

//! Small GGUF files built in memory for tests.

/// Builds small GGUF files for tests.
pub struct Builder {
    pub version: u32,
    /// Padding of the header and of tensor offsets.
    pub align: u64,
    pub kvs: Vec<u8>,
    pub kv_count: u64,
    pub infos: Vec<u8>,
    pub tensor_count: u64,
    pub data: Vec<u8>,
}

pub fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend((s.len() as u64).to_le_bytes());
    out.extend(s.as_bytes());
}

impl Builder {
    pub fn new() -> Self {
        Builder {
            version: 3,
            align: 32,
            kvs: Vec::new(),
            kv_count: 0,
            infos: Vec::new(),
            tensor_count: 0,
            data: Vec::new(),
        }
    }

    /// A key with a raw value of GGUF type `ty`.
    pub fn kv(mut self, key: &str, ty: u32, value: &[u8]) -> Self {
        put_str(&mut self.kvs, key);
        self.kvs.extend(ty.to_le_bytes());
        self.kvs.extend(value);
        self.kv_count += 1;
        self
    }

    pub fn kv_str(self, key: &str, value: &str) -> Self {
        let mut v = Vec::new();
        put_str(&mut v, value);
        self.kv(key, 8, &v)
    }

    pub fn kv_u32(self, key: &str, value: u32) -> Self {
        self.kv(key, 4, &value.to_le_bytes())
    }

    /// A tensor with its data appended at the next `align` boundary.
    pub fn tensor(mut self, name: &str, ne: &[u64], type_id: u32, data: &[u8]) -> Self {
        let offset = align_up(self.data.len() as u64, self.align);
        self.data.resize(offset as usize, 0);
        self.data.extend(data);
        put_str(&mut self.infos, name);
        self.infos.extend((ne.len() as u32).to_le_bytes());
        for &n in ne {
            self.infos.extend(n.to_le_bytes());
        }
        self.infos.extend(type_id.to_le_bytes());
        self.infos.extend(offset.to_le_bytes());
        self.tensor_count += 1;
        self
    }

    pub fn build(&self) -> Vec<u8> {
        let mut out = b"GGUF".to_vec();
        out.extend(self.version.to_le_bytes());
        out.extend(self.tensor_count.to_le_bytes());
        out.extend(self.kv_count.to_le_bytes());
        out.extend(&self.kvs);
        out.extend(&self.infos);
        out.resize(align_up(out.len() as u64, self.align) as usize, 0);
        out.extend(&self.data);
        out
    }
}

fn align_up(pos: u64, alignment: u64) -> u64 {
    pos.div_ceil(alignment) * alignment
}

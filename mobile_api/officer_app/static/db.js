// IndexedDB, promised: the device token, the pinned keys, the signed bundle and
// its deltas ("kv"), the scans made here ("scans") and the inspections ("inspections").

const NAME = "sealtrace-officer";
let opened = null;

export function openDb() {
  if (opened) return opened;
  opened = new Promise((resolve, reject) => {
    const request = indexedDB.open(NAME, 1);
    request.onupgradeneeded = () => {
      const db = request.result;
      db.createObjectStore("kv");
      db.createObjectStore("scans", { keyPath: "scan_id" }).createIndex("state", "state");
      db.createObjectStore("inspections", { keyPath: "scan_id" }).createIndex("state", "state");
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return opened;
}

function done(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function store(name, mode = "readonly") {
  return (await openDb()).transaction(name, mode).objectStore(name);
}

export const get = async (name, key) => done((await store(name)).get(key));
export const put = async (name, value, key) => done((await store(name, "readwrite")).put(value, key));
export const del = async (name, key) => done((await store(name, "readwrite")).delete(key));
export const all = async (name) => done((await store(name)).getAll());
export const clear = async (name) => done((await store(name, "readwrite")).clear());

"""Drives acs-sim's REST API with pygenieacs, the GenieACS client, as an operator's script would.

Usage: drive.py <rest-api-base-url> <device-serial>
Prints one line per check; exits non-zero at the first failure.
"""

import asyncio
import json
import sys
from urllib.parse import quote

from pygenieacs import DevicesAPI, GenieACSClient, TasksAPI

CR = {"connection_request": "", "timeout": "10000"}
FIRMWARE = "pygenieacs-fw-3.0.bin"


def check(condition, what):
    if not condition:
        print(f"FAILED: {what}", flush=True)
        sys.exit(1)
    print(f"ok: {what}", flush=True)


async def device_doc(devices, serial, projection=None):
    query = {"query": json.dumps({"_deviceId._SerialNumber": serial})}
    if projection:
        query["projection"] = projection
    found = await devices.list(query)
    check(len(found) == 1, f"exactly one device with serial {serial}")
    return found[0]


async def wait_for_event(devices, serial, code):
    """The device's document once its last Inform carried `code` (10 s at most)."""
    for _ in range(100):
        doc = await device_doc(devices, serial)
        if code in doc.get("_lastEvents", []):
            return doc
        await asyncio.sleep(0.1)
    check(False, f"the device informed {code!r}")


def value(doc, path):
    node = doc
    for part in path.split("."):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node.get("_value") if isinstance(node, dict) else None


async def main(base, serial):
    async with GenieACSClient(base_url=base) as client:
        devices = DevicesAPI(client)
        tasks = TasksAPI(client)

        doc = await device_doc(devices, serial)
        device = doc["_id"]
        path = f"/devices/{quote(device, safe='')}/tasks"
        check(doc["_deviceId"]["_SerialNumber"] == serial, "list devices: the CPE is registered")

        # getParameterValues with a connection request: answered while we wait.
        task = await client.post(
            path,
            json={"name": "getParameterValues", "parameterNames": ["Device.DeviceInfo.SoftwareVersion"]},
            params=CR,
        )
        check(await tasks.list({"query": json.dumps({"_id": task["_id"]})}) == [], "getParameterValues ran")
        doc = await device_doc(devices, serial, "Device.DeviceInfo.SoftwareVersion")
        version = value(doc, "Device.DeviceInfo.SoftwareVersion")
        check(version not in (None, ""), f"SoftwareVersion read through the API: {version!r}")

        # setParameterValues queued with pygenieacs's own call, run by the next connection request.
        queued = await tasks.add(
            quote(device, safe=""),
            "setParameterValues",
            {"parameterValues": [["Device.DeviceInfo.ProvisioningCode", "PYGENIEACS", "xsd:string"]]},
        )
        check(queued["name"] == "setParameterValues", "setParameterValues queued")
        await client.post(
            path, json={"name": "getParameterValues", "parameterNames": ["Device.DeviceInfo.ProvisioningCode"]},
            params=CR,
        )
        check(await tasks.list({"query": json.dumps({"device": device})}) == [], "both tasks ran")
        doc = await device_doc(devices, serial, "Device.DeviceInfo.ProvisioningCode")
        check(value(doc, "Device.DeviceInfo.ProvisioningCode") == "PYGENIEACS", "the new value reads back")

        # Upload a file, then have the device download it.
        meta = await client.put(
            f"/files/{FIRMWARE}",
            content=b"\x7fFW" * 4096,
            headers={"fileType": "1 Firmware Upgrade Image", "version": "3.0"},
        )
        files = await client.get("/files/")
        check(any(f["_id"] == FIRMWARE for f in files), f"file uploaded and listed ({meta})")
        download = await client.post(path, json={"name": "download", "file": FIRMWARE}, params=CR)
        check(await tasks.list({"query": json.dumps({"_id": download["_id"]})}) == [], "download ran")
        doc = await wait_for_event(devices, serial, "7 TRANSFER COMPLETE")
        check("M Download" in doc["_lastEvents"], "the device reported the download done (TransferComplete)")
        faults = await client.get("/faults/", params={"query": json.dumps({"device": device})})
        check(faults == [], "no faults for the device")

        # Reboot, and see the device come back.
        reboot = await client.post(path, json={"name": "reboot"}, params=CR)
        check(await tasks.list({"query": json.dumps({"_id": reboot["_id"]})}) == [], "reboot ran")
        doc = await wait_for_event(devices, serial, "M Reboot")
        check("1 BOOT" in doc["_lastEvents"], "the device informed 1 BOOT, M Reboot after the reboot")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))

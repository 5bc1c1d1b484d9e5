#!/usr/bin/env bash
# Makes docs/figures/demo_contact_sheet.png (the README's first figure): runs `xraylab demo` (the shipped
# src/xraylab/demo.yaml: 21 Fok views, full-resolution default CT, 512^2 detector) and copies its contact sheet.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/xraylab demo --out outputs/demo "$@"
cp outputs/demo/contact_sheet.png docs/figures/demo_contact_sheet.png
echo "wrote docs/figures/demo_contact_sheet.png"

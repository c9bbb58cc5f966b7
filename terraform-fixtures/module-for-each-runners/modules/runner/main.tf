variable "name" {
  type = string
}

variable "subnet_id" {
  type = string
}

variable "security_group_ids" {
  type = list(string)
}

resource "aws_instance" "this" {
  ami                    = "ami-0d64bb532e0502c46"
  instance_type          = "t3.large"
  subnet_id              = var.subnet_id
  vpc_security_group_ids = var.security_group_ids
  tags = { Name = var.name }
}
